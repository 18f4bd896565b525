// Source links: the line of user code that called an op (profile(with_stack=True): args "Source file" /
// "Source line") opens in JupyterLab's editor at that line. A MIME renderer has no app, so links only
// dispatch a window event; the plugin below (loaded with the side panel) opens the file with
// docmanager:open and moves the cursor there. The href is JupyterLab's own file URL (lab/tree/<path>).
// Links written by Python (torsh.viz.trace_view's table, an ipywidgets HTML: only data-file and
// data-line) are opened by the plugin's click listener on the document.
// Code run in a notebook cell is compiled to /tmp/ipykernel_*/<hash>.py: its ops carry the cell's
// execution count (args "Source cell"), the link reads "cell [N], line L" and selects that cell of the
// notebook holding the link (else the current notebook, else any open one) at that line.

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { NotebookPanel } from '@jupyterlab/notebook';

import { htmlEl } from './svg';
import { SourceLine, sourceText } from './trace-model';

export const OPEN_SOURCE_EVENT = 'torsh-open-source';

function pageConfig(key: string): string {
  const el = typeof document !== 'undefined' ? document.getElementById('jupyter-config-data') : null;
  try {
    return el ? String(JSON.parse(el.textContent || '{}')[key] ?? '') : '';
  } catch {
    return '';
  }
}

/** ``file`` (as the kernel saw it, usually absolute) relative to the server root, or null outside it.
 * The server may write its root with ``~`` for the home directory: then the part after ``~`` is matched. */
export function serverPath(file: string, root: string): string | null {
  if (!file.startsWith('/')) {
    return file.replace(/^\.\//, ''); // relative: the kernel ran in the root
  }
  if (!root) {
    return null;
  }
  const prefix = root.endsWith('/') ? root : root + '/';
  if (!prefix.startsWith('~')) {
    return file.startsWith(prefix) ? file.slice(prefix.length) : null;
  }
  if (prefix === '~/') {
    const home = file.match(/^(\/home\/[^/]+\/|\/root\/|\/Users\/[^/]+\/)/);
    return home ? file.slice(home[0].length) : null;
  }
  const at = file.indexOf(prefix.slice(1));
  return at > 0 ? file.slice(at + prefix.length - 1) : null;
}

/** ``a.torsh-source-link`` showing ``name.py:line`` (or ``cell [N], line L``); a click opens the file at that
 * line in JupyterLab (or selects the cell). */
export function sourceLink(parent: Element, source: SourceLine): HTMLAnchorElement {
  const path = serverPath(source.file, pageConfig('serverRoot'));
  const base = pageConfig('baseUrl') || '/';
  const where = `${source.file}:${source.line}`;
  const inCell = source.cell !== undefined;
  const link = htmlEl('a', {
    class: 'torsh-source-link', 'data-bound': '1', 'data-file': source.file, 'data-path': path ?? '', 'data-line': String(source.line),
    ...(inCell ? { 'data-cell': String(source.cell) } : {}),
    href: path !== null && !inCell ? `${base}lab/tree/${path.split('/').map(encodeURIComponent).join('/')}` : '#',
    title: inCell ? `select cell [${source.cell}] of the notebook, line ${source.line} (${where})`
      : path !== null ? `open ${where} in JupyterLab` : `${where} (outside the Jupyter server's root: cannot open)`
  }, parent, sourceText(source));
  link.addEventListener('click', ev => {
    ev.preventDefault();
    ev.stopPropagation();
    openSource(source, link);
  });
  return link;
}

type OpenRequest = { source: SourceLine; from: Element | null };

/** Ask the plugin to open ``source``; ``from`` (the link) tells which notebook holds it. */
export function openSource(source: SourceLine, from: Element | null = null): void {
  window.dispatchEvent(new CustomEvent<OpenRequest>(OPEN_SOURCE_EVENT, { detail: { source, from } }));
}

/** Select the code cell that ran as In [``source.cell``] and put the cursor on its line: in the notebook
 * holding ``from``, else the current notebook, else any open one. False when no notebook has that cell. */
async function selectCell(app: JupyterFrontEnd, source: SourceLine, from: Element | null): Promise<boolean> {
  const panels = openNotebooks(app);
  const rank = (p: NotebookPanel) => (from && p.node.contains(from) ? 0 : p === app.shell.currentWidget ? 1 : 2);
  for (const panel of panels.sort((a, b) => rank(a) - rank(b))) {
    const notebook = panel.content;
    const index = notebook.widgets.findIndex(cell => cell.model.type === 'code' &&
      (cell.model as unknown as { executionCount: number | null }).executionCount === source.cell);
    if (index < 0) {
      continue;
    }
    app.shell.activateById(panel.id);
    notebook.deselectAll();
    notebook.activeCellIndex = index;
    const cell = notebook.widgets[index];
    await notebook.scrollToCell(cell, 'center');
    const position = { line: Math.max(source.line - 1, 0), column: 0 };
    cell.editor?.setCursorPosition(position);
    return true;
  }
  return false;
}

/** The notebooks open in the main area (found by shape: importing @jupyterlab/notebook here would load the DOM
 * toolkit into the unit tests that read this module). */
function openNotebooks(app: JupyterFrontEnd): NotebookPanel[] {
  const panels: NotebookPanel[] = [];
  for (const widget of app.shell.widgets('main')) {
    const content = (widget as unknown as Partial<NotebookPanel>).content;
    if (content && Array.isArray(content.widgets) && typeof content.scrollToCell === 'function') {
      panels.push(widget as unknown as NotebookPanel);
    }
  }
  return panels;
}

async function open(app: JupyterFrontEnd, source: SourceLine, from: Element | null): Promise<void> {
  if (source.cell !== undefined && (await selectCell(app, source, from))) {
    return;
  }
  await openInEditor(app, source);
}

async function openInEditor(app: JupyterFrontEnd, source: SourceLine): Promise<void> {
  const path = serverPath(source.file, pageConfig('serverRoot'));
  if (path === null) {
    console.warn(`torsh: ${source.file} is outside the Jupyter server's root; cannot open it`);
    return;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const widget: any = await app.commands.execute('docmanager:open', { path, factory: 'Editor' });
  await widget?.context?.ready;
  const editor = widget?.content?.editor;
  if (editor) {
    const position = { line: Math.max(source.line - 1, 0), column: 0 };
    editor.setCursorPosition(position);
    editor.revealPosition?.(position);
    editor.focus?.();
  }
}

export const sourceLinksPlugin: JupyterFrontEndPlugin<void> = {
  id: 'torsh-jupyterlab:source-links',
  description: 'Opens the Python line that called a profiled op (trace viewer source links) in the editor',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    window.addEventListener(OPEN_SOURCE_EVENT, ev => {
      const { source, from } = (ev as CustomEvent<OpenRequest>).detail;
      void open(app, source, from);
    });
    document.addEventListener('click', ev => {
      const link = (ev.target as Element | null)?.closest?.('a.torsh-source-link') as HTMLAnchorElement | null;
      if (!link || link.dataset.bound || !link.dataset.file) {
        return; // not a link, or one the trace renderer handles itself
      }
      ev.preventDefault();
      const cell = link.dataset.cell ? { cell: Number(link.dataset.cell) } : {};
      void open(app, { file: link.dataset.file, line: Number(link.dataset.line), ...cell }, link);
    });
  }
};
