// Draws a laid-out torsh graph as SVG: module boxes, then edges, then labelled nodes. A folded run
// of repeated blocks ("Linear x 12") expands on click; clicking the caption of an expanded run's
// first box folds it again.

import { Fold, formatBytes, GraphDoc, Layout, layoutGraph, nodeDetail, PlacedNode } from './graph-layout';
import { htmlEl, svgEl, zoomPan } from './svg';

export async function renderGraph(host: HTMLElement, doc: GraphDoc, expanded: Set<string> = new Set()): Promise<void> {
  const layout = await layoutGraph(doc, expanded);
  const redraw = () => void renderGraph(host, doc, expanded);
  host.replaceChildren();
  const saved = doc.nodes.reduce((a, n) => a + n.saved_bytes, 0);
  const folded = layout.folds.length ? `, ${layout.folds.length} repeated block runs folded (click to expand)` : '';
  htmlEl('div', { class: 'torsh-caption' }, host,
    `autograd graph: ${doc.nodes.length} nodes, ${doc.edges.length} edges, ${doc.groups.length} module groups, ` +
    `${formatBytes(saved)} saved for backward${folded} (wheel: zoom, drag: pan, double-click: reset)`);
  const w = Math.max(layout.width, 200);
  const h = Math.max(layout.height, 80);
  const svg = svgEl('svg', { class: 'torsh-graph', width: '100%', height: Math.min(h, 640) }, host);
  zoomPan(svg, w, h);
  const defs = svgEl('defs', {}, svg);
  const marker = svgEl('marker', { id: 'torsh-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
  svgEl('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'torsh-arrowhead' }, marker);

  drawGroups(svg, layout, expanded, redraw);
  for (const e of layout.edges) {
    const d = e.points.map(([x, y], i) => `${i ? 'L' : 'M'} ${x} ${y}`).join(' ');
    svgEl('path', { class: 'torsh-edge', d, 'marker-end': 'url(#torsh-arrow)',
      'data-source': e.source, 'data-target': e.target }, svg);
  }
  for (const p of layout.nodes.values()) {
    if (p.fold) {
      drawFold(svg, p, p.fold, () => {
        expanded.add(p.fold!.id);
        redraw();
      });
    } else {
      drawNode(svg, p);
    }
  }
}

function drawGroups(svg: SVGSVGElement, layout: Layout, expanded: Set<string>, redraw: () => void): void {
  const refold = new Map<string, string>(); // first group of an expanded run -> its fold id
  for (const id of expanded) {
    refold.set(id.slice('fold:'.length), id);
  }
  for (const g of layout.groups) {
    const box = svgEl('g', { class: 'torsh-group', 'data-module': g.group.module }, svg);
    svgEl('rect', { x: g.x, y: g.y, width: g.width, height: g.height, rx: 6 }, box);
    const caption = svgEl('text', { x: g.label.x, y: g.label.y + 10 }, box);
    caption.textContent = g.label.text;
    const fold = refold.get(g.group.id);
    if (fold) {
      caption.setAttribute('class', 'torsh-clickable torsh-refold');
      svgEl('title', {}, caption).textContent = 'click to fold the repeated blocks again';
      caption.addEventListener('click', () => {
        expanded.delete(fold);
        redraw();
      });
    }
  }
}

function drawNode(svg: SVGSVGElement, p: PlacedNode): void {
  const n = p.node!;
  const g = svgEl('g', { class: `torsh-node torsh-node-${n.kind}`, 'data-id': n.id }, svg);
  svgEl('rect', { x: p.x, y: p.y, width: p.width, height: p.height, rx: n.kind === 'op' ? 4 : 14 }, g);
  svgEl('text', { x: p.x + p.width / 2, y: p.y + 16, class: 'torsh-node-label' }, g).textContent = clip(n.label, 24);
  svgEl('text', { x: p.x + p.width / 2, y: p.y + 31, class: 'torsh-node-detail' }, g).textContent =
    clip(nodeDetail(n), 30);
  svgEl('title', {}, g).textContent =
    `${n.label} (${n.kind}${n.op ? ': ' + n.op : ''})\n${nodeDetail(n)}` + (n.module !== null ? `\nmodule: ${n.module || '(top)'}` : '');
}

function drawFold(svg: SVGSVGElement, p: PlacedNode, fold: Fold, expand: () => void): void {
  const g = svgEl('g', { class: 'torsh-fold torsh-clickable', 'data-fold': fold.id }, svg);
  svgEl('rect', { x: p.x + 4, y: p.y + 4, width: p.width, height: p.height, rx: 4, class: 'torsh-fold-shadow' }, g);
  svgEl('rect', { x: p.x, y: p.y, width: p.width, height: p.height, rx: 4 }, g);
  svgEl('text', { x: p.x + p.width / 2, y: p.y + 16, class: 'torsh-node-label' }, g).textContent = clip(fold.label, 24);
  svgEl('text', { x: p.x + p.width / 2, y: p.y + 31, class: 'torsh-node-detail' }, g).textContent = 'click to expand';
  svgEl('title', {}, g).textContent = `${fold.label}: ${fold.detail}\nclick to expand`;
  g.addEventListener('click', expand);
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}
