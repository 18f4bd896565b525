// Reading the pages of a big trace (torshPages, see trace-model.ts) through the Jupyter server's contents
// API: the page's path is resolved against the document that holds the trace (the renderer's URL resolver:
// the .trace.json file, or the notebook of an output), then read with ServerConnection.

import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { ServerConnection } from '@jupyterlab/services';

import { TraceEvent } from './trace-model';

export type PageLoader = (file: string) => Promise<TraceEvent[]>;

/** A loader of ``dir/file`` pages beside the trace's document, or null without a resolver (no server). */
export function contentsPageLoader(resolver: IRenderMime.IResolver | null | undefined, dir: string): PageLoader | null {
  if (!resolver) {
    return null;
  }
  return async (file: string) => {
    const path = decodeURI(await resolver.resolveUrl(`${dir}/${file}`)).replace(/^\/+/, '');
    const settings = ServerConnection.makeSettings();
    const url = settings.baseUrl + 'api/contents/' + path.split('/').map(encodeURIComponent).join('/') +
      '?type=file&format=text&content=1';
    const response = await ServerConnection.makeRequest(url, {}, settings);
    if (!response.ok) {
      throw new Error(`cannot read trace page ${path}: ${response.status} ${response.statusText}`);
    }
    const model = await response.json();
    return (JSON.parse(model.content) as { traceEvents: TraceEvent[] }).traceEvents;
  };
}
