// IRenderMime renderers for the torsh graph and trace documents (one widget class, two drawers).

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { GraphDoc, graphProblem } from './graph-layout';
import { renderGraph } from './graph-view';
import { traceProblem, TraceDoc } from './trace-model';
import { contentsPageLoader } from './trace-pages';
import { renderTrace } from './trace-view';

export const GRAPH_MIME = 'application/vnd.torsh.graph+json';
export const TRACE_MIME = 'application/vnd.torsh.trace+json';

type Drawer = { problem: (doc: unknown) => string | null;
  draw: (host: HTMLElement, doc: any, resolver: IRenderMime.IResolver | null) => void | Promise<void> };

const DRAWERS: Record<string, Drawer> = {
  [GRAPH_MIME]: { problem: graphProblem, draw: (host, doc: GraphDoc) => renderGraph(host, { ...doc, groups: doc.groups ?? [] }) },
  [TRACE_MIME]: { problem: traceProblem, draw: (host, doc: TraceDoc, resolver) =>
    renderTrace(host, doc, doc.torshPages ? contentsPageLoader(resolver, doc.torshPages.dir) : null) }
};

export class TorshRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(private readonly mimeType: string, private readonly resolver: IRenderMime.IResolver | null = null) {
    super();
    this.addClass('torsh-render');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    let doc = model.data[this.mimeType] as unknown;
    this.node.replaceChildren();
    try {
      if (typeof doc === 'string') {
        doc = JSON.parse(doc); // a file opened as text
      }
      const drawer = DRAWERS[this.mimeType];
      const problem = drawer.problem(doc);
      if (problem) {
        this.showError(problem);
        return;
      }
      await drawer.draw(this.node, doc, this.resolver);
    } catch (err) {
      this.showError(`cannot draw ${this.mimeType}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private showError(text: string): void {
    const div = document.createElement('div');
    div.className = 'torsh-error';
    div.textContent = text;
    this.node.replaceChildren(div);
  }
}

export function rendererFactory(mimeType: string): IRenderMime.IRendererFactory {
  return { safe: true, mimeTypes: [mimeType], defaultRank: 0, createRenderer: options => new TorshRenderer(mimeType, options.resolver) };
}
