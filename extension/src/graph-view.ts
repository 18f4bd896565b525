// Draws a laid-out torsh graph as SVG: module boxes, then edges, then labelled nodes.

import { formatBytes, GraphDoc, layoutGraph, nodeDetail } from './graph-layout';
import { htmlEl, svgEl, zoomPan } from './svg';

export function renderGraph(host: HTMLElement, doc: GraphDoc): void {
  const layout = layoutGraph(doc);
  const saved = doc.nodes.reduce((a, n) => a + n.saved_bytes, 0);
  htmlEl('div', { class: 'torsh-caption' }, host,
    `autograd graph: ${doc.nodes.length} nodes, ${doc.edges.length} edges, ${doc.groups.length} module groups, ` +
    `${formatBytes(saved)} saved for backward (wheel: zoom, drag: pan, double-click: reset)`);
  const w = Math.max(layout.width, 200);
  const h = Math.max(layout.height, 80);
  const svg = svgEl('svg', { class: 'torsh-graph', width: '100%', height: Math.min(h, 640) }, host);
  zoomPan(svg, w, h);
  const defs = svgEl('defs', {}, svg);
  const marker = svgEl('marker', { id: 'torsh-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
  svgEl('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'torsh-arrowhead' }, marker);

  for (const g of layout.groups) {
    const box = svgEl('g', { class: 'torsh-group', 'data-module': g.group.module }, svg);
    svgEl('rect', { x: g.x, y: g.y, width: g.width, height: g.height, rx: 6 }, box);
    svgEl('text', { x: g.x + 6, y: g.y + 12 }, box).textContent = g.group.label;
  }
  for (const e of doc.edges) {
    const s = layout.nodes.get(e.source);
    const t = layout.nodes.get(e.target);
    if (!s || !t) {
      continue;
    }
    const x1 = s.x + s.width / 2;
    const y1 = s.y + s.height;
    const x2 = t.x + t.width / 2;
    const y2 = t.y;
    const my = (y1 + y2) / 2;
    svgEl('path', { class: 'torsh-edge', d: `M ${x1} ${y1} C ${x1} ${my} ${x2} ${my} ${x2} ${y2}`,
      'marker-end': 'url(#torsh-arrow)' }, svg);
  }
  for (const p of layout.nodes.values()) {
    const n = p.node;
    const g = svgEl('g', { class: `torsh-node torsh-node-${n.kind}`, 'data-id': n.id }, svg);
    svgEl('rect', { x: p.x, y: p.y, width: p.width, height: p.height, rx: n.kind === 'op' ? 4 : 14 }, g);
    svgEl('text', { x: p.x + p.width / 2, y: p.y + 16, class: 'torsh-node-label' }, g).textContent = clip(n.label, 24);
    svgEl('text', { x: p.x + p.width / 2, y: p.y + 31, class: 'torsh-node-detail' }, g).textContent =
      clip(nodeDetail(n), 30);
    svgEl('title', {}, g).textContent =
      `${n.label} (${n.kind}${n.op ? ': ' + n.op : ''})\n${nodeDetail(n)}` + (n.module !== null ? `\nmodule: ${n.module || '(top)'}` : '');
  }
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}
