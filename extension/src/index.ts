// Public surface for tests and other extensions; JupyterLab loads mime.ts and panel.ts directly.
export * from './graph-layout';
export * from './trace-model';
export * from './stats';
