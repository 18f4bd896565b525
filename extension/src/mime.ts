// The rendermime extension module (package.json "mimeExtension"): renderers for both MIME
// types, and the *.trace.json file type opened by default with the trace renderer.

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { GRAPH_MIME, rendererFactory, TRACE_MIME } from './renderers';

const TRACE_FILE_TYPE = 'torsh-trace';

const graphExtension: IRenderMime.IExtension = {
  id: 'torsh-jupyterlab:graph',
  description: 'Renders torsh autograd graphs (application/vnd.torsh.graph+json)',
  rendererFactory: rendererFactory(GRAPH_MIME),
  rank: 0, // lower rank wins: ahead of the generic JSON renderer
  dataType: 'json'
};

const traceExtension: IRenderMime.IExtension = {
  id: 'torsh-jupyterlab:trace',
  description: 'Renders torsh/Chrome profiler traces (application/vnd.torsh.trace+json) and opens *.trace.json files',
  rendererFactory: rendererFactory(TRACE_MIME),
  rank: 0,
  dataType: 'json',
  fileTypes: [
    {
      name: TRACE_FILE_TYPE,
      displayName: 'Chrome trace (torsh)',
      mimeTypes: [TRACE_MIME],
      extensions: ['.trace.json'],
      pattern: '\\.trace\\.json$',
      fileFormat: 'text',
      iconClass: 'jp-MaterialIcon jp-JSONIcon'
    }
  ],
  documentWidgetFactoryOptions: {
    name: 'ToRSh Trace',
    label: 'ToRSh Trace Viewer',
    primaryFileType: TRACE_FILE_TYPE,
    fileTypes: [TRACE_FILE_TYPE],
    defaultFor: [TRACE_FILE_TYPE]
  }
};

const extensions: IRenderMime.IExtension[] = [graphExtension, traceExtension];
export default extensions;
