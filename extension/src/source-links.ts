// Source links: the line of user code that called an op (profile(with_stack=True): args "Source file" /
// "Source line") opens in JupyterLab's editor at that line. A MIME renderer has no app, so links only
// dispatch a window event; the plugin below (loaded with the side panel) opens the file with
// docmanager:open and moves the cursor there. The href is JupyterLab's own file URL (lab/tree/<path>).
// Links written by Python (torsh.viz.trace_view's table, an ipywidgets HTML: only data-file and
// data-line) are opened by the plugin's click listener on the document.

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

import { htmlEl } from './svg';
import { SourceLine } from './trace-model';

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

/** ``a.torsh-source-link`` showing ``name.py:line``; a click opens the file at that line in JupyterLab. */
export function sourceLink(parent: Element, source: SourceLine): HTMLAnchorElement {
  const path = serverPath(source.file, pageConfig('serverRoot'));
  const base = pageConfig('baseUrl') || '/';
  const where = `${source.file}:${source.line}`;
  const link = htmlEl('a', {
    class: 'torsh-source-link', 'data-bound': '1', 'data-file': source.file, 'data-path': path ?? '', 'data-line': String(source.line),
    href: path !== null ? `${base}lab/tree/${path.split('/').map(encodeURIComponent).join('/')}` : '#',
    title: path !== null ? `open ${where} in JupyterLab` : `${where} (outside the Jupyter server's root: cannot open)`
  }, parent, `${source.file.split('/').pop()}:${source.line}`);
  link.addEventListener('click', ev => {
    ev.preventDefault();
    ev.stopPropagation();
    openSource(source);
  });
  return link;
}

export function openSource(source: SourceLine): void {
  window.dispatchEvent(new CustomEvent<SourceLine>(OPEN_SOURCE_EVENT, { detail: source }));
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
    window.addEventListener(OPEN_SOURCE_EVENT, ev => void openInEditor(app, (ev as CustomEvent<SourceLine>).detail));
    document.addEventListener('click', ev => {
      const link = (ev.target as Element | null)?.closest?.('a.torsh-source-link') as HTMLAnchorElement | null;
      if (!link || link.dataset.bound || !link.dataset.file) {
        return; // not a link, or one the trace renderer handles itself
      }
      ev.preventDefault();
      void openInEditor(app, { file: link.dataset.file, line: Number(link.dataset.line) });
    });
  }
};
