// Flame chart (one lane per thread, nested slices stacked), live-bytes curve and op table.

import { formatBytes } from './graph-layout';
import { buildLanes, counterSeries, opTotals, timeRange, TraceDoc } from './trace-model';
import { htmlEl, svgEl } from './svg';

const ROW = 18;
const LANE_HEAD = 18;
const AXIS = 22;
const MEMORY = 48;
const LABEL_MIN_PX = 40;

export function renderTrace(host: HTMLElement, doc: TraceDoc): void {
  const lanes = buildLanes(doc);
  const memory = counterSeries(doc);
  const [t0, t1] = timeRange(lanes);
  const events = lanes.reduce((n, l) => n + l.slices.length, 0);
  htmlEl('div', { class: 'torsh-caption' }, host,
    `trace: ${events} events on ${lanes.length} thread(s), ${((t1 - t0) / 1000).toFixed(3)} ms` +
    (memory.length ? `, peak ${formatBytes(Math.max(...memory.map(m => m[1])))} live` : '') +
    ' (wheel: zoom, drag: pan, double-click: reset)');
  const memoryHeight = memory.length ? MEMORY : 0;
  const height = AXIS + memoryHeight + lanes.reduce((h, l) => h + LANE_HEAD + l.depth * ROW, 0) + 4;
  const svg = svgEl('svg', { class: 'torsh-trace', width: '100%', height }, host);
  let view = { from: t0, to: t1 + (t1 - t0) * 0.01 || t0 + 1 };

  const draw = () => {
    svg.replaceChildren();
    const width = svg.getBoundingClientRect().width || 800;
    const x = (t: number) => ((t - view.from) / (view.to - view.from)) * width;
    drawAxis(svg, view.from - t0, view.to - t0, width);
    if (memory.length) {
      drawMemory(svg, memory, x, width);
    }
    let y = AXIS + memoryHeight;
    for (const lane of lanes) {
      svgEl('text', { x: 2, y: y + 13, class: 'torsh-lane-name' }, svg).textContent = lane.name;
      y += LANE_HEAD;
      for (const s of lane.slices) {
        const a = x(s.start);
        const b = x(s.end);
        if (b < 0 || a > width) {
          continue; // outside the view: not drawn, so zooming into a long trace stays fast
        }
        const w = Math.max(b - a, 0.5);
        const g = svgEl('g', { class: 'torsh-slice' }, svg);
        svgEl('rect', { x: a, y: y + s.depth * ROW, width: w, height: ROW - 2, fill: colour(s.event.name) }, g);
        if (w > LABEL_MIN_PX) {
          svgEl('text', { x: Math.max(a, 0) + 3, y: y + s.depth * ROW + 12 }, g).textContent =
            s.event.name.slice(0, Math.floor(w / 6.5));
        }
        svgEl('title', {}, g).textContent = `${s.event.name}\n${(s.end - s.start).toFixed(3)} us` +
          (s.event.cat ? `\ncat: ${s.event.cat}` : '') + argsText(s.event.args);
      }
      y += lane.depth * ROW;
    }
  };
  draw();
  // the real width is known once the output is attached, and changes with the panel
  let lastWidth = 0;
  new ResizeObserver(() => {
    const width = svg.getBoundingClientRect().width;
    if (width > 0 && width !== lastWidth) {
      lastWidth = width;
      draw();
    }
  }).observe(svg);

  svg.addEventListener('wheel', ev => {
    ev.preventDefault();
    const r = svg.getBoundingClientRect();
    const at = view.from + ((ev.clientX - r.left) / Math.max(r.width, 1)) * (view.to - view.from);
    const k = Math.exp(ev.deltaY * 0.002);
    view = { from: at - (at - view.from) * k, to: at + (view.to - at) * k };
    draw();
  });
  let dragX: number | null = null;
  svg.addEventListener('pointerdown', ev => (dragX = ev.clientX));
  svg.addEventListener('pointermove', ev => {
    if (dragX !== null) {
      const dt = ((ev.clientX - dragX) / Math.max(svg.getBoundingClientRect().width, 1)) * (view.to - view.from);
      view = { from: view.from - dt, to: view.to - dt };
      dragX = ev.clientX;
      draw();
    }
  });
  svg.addEventListener('pointerup', () => (dragX = null));
  svg.addEventListener('pointerleave', () => (dragX = null));
  svg.addEventListener('dblclick', () => {
    view = { from: t0, to: t1 + (t1 - t0) * 0.01 || t0 + 1 };
    draw();
  });

  renderOpTable(host, doc);
}

function drawAxis(svg: SVGSVGElement, from: number, to: number, width: number): void {
  const step = niceStep((to - from) / 8);
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
    const px = ((t - from) / (to - from)) * width;
    svgEl('line', { x1: px, x2: px, y1: AXIS - 6, y2: AXIS, class: 'torsh-tick' }, svg);
    svgEl('text', { x: px + 2, y: AXIS - 8, class: 'torsh-tick-label' }, svg).textContent = formatUs(t);
  }
}

function drawMemory(svg: SVGSVGElement, memory: Array<[number, number]>, x: (t: number) => number, width: number): void {
  const peak = Math.max(...memory.map(m => m[1]), 1);
  const y = (v: number) => AXIS + MEMORY - 4 - (v / peak) * (MEMORY - 8);
  let d = `M ${x(memory[0][0])} ${y(0)}`;
  for (const [t, v] of memory) {
    d += ` H ${x(t)} V ${y(v)}`; // live bytes hold until the next sample: a step curve
  }
  d += ` H ${width}`;
  svgEl('path', { d, class: 'torsh-memory' }, svg);
  svgEl('text', { x: 2, y: AXIS + 12, class: 'torsh-lane-name' }, svg).textContent =
    `live memory (peak ${formatBytes(peak)})`;
}

function renderOpTable(host: HTMLElement, doc: TraceDoc): void {
  const totals = opTotals(doc);
  const all = totals.reduce((a, t) => a + t.totalUs, 0) || 1;
  const table = htmlEl('table', { class: 'torsh-table torsh-op-table' }, host);
  const head = htmlEl('tr', {}, htmlEl('thead', {}, table));
  for (const h of ['op', 'calls', 'total (us, with children)', 'avg (us)', '% of op time']) {
    htmlEl('th', {}, head, h);
  }
  const body = htmlEl('tbody', {}, table);
  for (const t of totals.slice(0, 40)) {
    const row = htmlEl('tr', {}, body);
    for (const cell of [t.name, String(t.count), t.totalUs.toFixed(1), (t.totalUs / t.count).toFixed(2),
      ((100 * t.totalUs) / all).toFixed(1)]) {
      htmlEl('td', {}, row, cell);
    }
  }
}

function argsText(args: Record<string, unknown> | undefined): string {
  if (!args) {
    return '';
  }
  return Object.entries(args)
    .filter(([k]) => k !== 'Ev Idx')
    .map(([k, v]) => `\n${k}: ${JSON.stringify(v).slice(0, 200)}`)
    .join('');
}

function niceStep(raw: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-6))));
  return [1, 2, 5, 10].map(m => m * p).find(s => s >= raw) ?? 10 * p;
}

function formatUs(us: number): string {
  return Math.abs(us) >= 1000 ? `${(us / 1000).toFixed(us % 1000 ? 2 : 0)} ms` : `${Number(us.toFixed(2))} us`;
}

function colour(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) {
    h = (h * 31 + name.charCodeAt(i)) >>> 0;
  }
  return `hsl(${h % 360}, 55%, 70%)`;
}
