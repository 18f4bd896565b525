// Flame chart (one lane per thread, nested slices stacked) with instant events and forward ->
// backward flow arrows, live-bytes curve, a search box, and the op table (self and total time).

import { formatBytes } from './graph-layout';
import { sourceLink, openSource } from './source-links';
import { buildLanes, counterSeries, Flow, flows, Lane, OpTotal, opSources, opTotals, pagesToFetch, sliceAt, sourceOf,
  SourceLine, sourceText, stepSpan, summaryTotals, timeRange, TraceDoc, TraceEvent, TracePages, TraceSummary } from './trace-model';
import { PageLoader } from './trace-pages';
import { htmlEl, svgEl } from './svg';

const ROW = 18;
const LANE_HEAD = 18;
const AXIS = 22;
const MEMORY = 48;
const LABEL_MIN_PX = 40;
const MANY_SLICES = 5000; // above this, slices narrower than a pixel share one mark per pixel column
const MAX_FLOWS_DRAWN = 2000;

const PAGE_BUDGET = 300_000; // a view pages in its detail once the pages it overlaps hold at most this many events

/** Summary first: with torsh's summaries (long runs) the op table over every step shows before the
 * events are laid out; the flame chart then draws only what falls in view, one mark per pixel column
 * for sub-pixel calls, so a 10,000-step trace opens fast. A paged trace (torshPages) draws its main
 * file, then ``loadPage`` fetches the pages of the steps the user zooms into or selects (click a step). */
export async function renderTrace(host: HTMLElement, doc: TraceDoc, loadPage: PageLoader | null = null): Promise<void> {
  const summary = doc.torshSummary ?? null;
  const caption = htmlEl('div', { class: 'torsh-caption' }, host, summaryCaption(summary) || 'trace: reading events');
  const search = htmlEl('input', { class: 'torsh-trace-search', type: 'search',
    placeholder: 'search events by name', 'aria-label': 'search events by name' }, host);
  const found = htmlEl('span', { class: 'torsh-trace-found' }, host);
  const chartHost = htmlEl('div', { class: 'torsh-trace-chart' }, host);
  const tableHost = htmlEl('div', {}, host);
  const early = summaryTotals(doc);
  const table = renderOpTable(tableHost, early ?? []);
  if (early) {
    await new Promise(resolve => setTimeout(resolve, 0)); // let the summary paint before the layout work
  }
  const pages = doc.torshPages ?? null;
  const loaded = new Set<number>((pages?.pages ?? []).flatMap((p, i) => (p.file === null ? [i] : [])));
  let events: TraceEvent[] = doc.traceEvents;
  let lanes: Lane[] = [];
  let memory: Array<[number, number]> = [];
  let arrows: Flow[] = [];
  let coalesce = false;
  let memoryHeight = 0;
  const svg = svgEl('svg', { class: 'torsh-trace', width: '100%', height: 0 }, chartHost);
  /** Lanes, totals and the caption from the events read so far (the main file, plus any pages loaded). */
  const layout = () => {
    const current = { ...doc, traceEvents: events };
    lanes = buildLanes(current);
    memory = counterSeries(current);
    const [t0, t1] = spanWithPages(timeRange(lanes), pages);
    const count = lanes.reduce((n, l) => n + l.slices.length, 0);
    caption.textContent =
      `trace: ${count} events on ${lanes.length} thread(s), ${((t1 - t0) / 1000).toFixed(3)} ms` +
      (memory.length ? `, peak ${formatBytes(Math.max(...memory.map(m => m[1])))} live` : '') +
      (summary ? `; ${summaryCaption(summary)}` : '') + pagesCaption(pages, loaded) +
      ' (wheel: zoom, drag: pan, double-click: reset' + (pages ? ', click a step: its detail)' : ')');
    table.fill(early ?? opTotals(current, lanes), opSources(lanes));
    coalesce = count > MANY_SLICES;
    arrows = flows(current);
    memoryHeight = memory.length ? MEMORY : 0;
    svg.setAttribute('height', String(AXIS + memoryHeight + lanes.reduce((h, l) => h + LANE_HEAD + l.depth * ROW, 0) + 4));
    svg.dataset.pagesLoaded = String(loaded.size);
    return [t0, t1];
  };
  const [t0, t1] = layout();
  let view = { from: t0, to: t1 + (t1 - t0) * 0.01 || t0 + 1 };
  const pending = new Set<number>();
  /** Fetch the pages the view needs (not while zoomed out over more than PAGE_BUDGET events), then redraw. */
  const pageIn = async () => {
    const wanted = pagesToFetch(pages, view.from, view.to, new Set([...loaded, ...pending]), PAGE_BUDGET);
    if (!loadPage || !pages || !wanted.length) {
      return;
    }
    wanted.forEach(i => pending.add(i));
    const read = await Promise.all(wanted.map(i => loadPage(pages.pages[i].file!).catch(err => {
      caption.textContent = `cannot read page ${pages.pages[i].file}: ${err instanceof Error ? err.message : String(err)}`;
      return null;
    })));
    read.forEach((page, k) => {
      pending.delete(wanted[k]);
      if (page) {
        loaded.add(wanted[k]);
        events = events.concat(page);
      }
    });
    layout();
    draw();
  };
  let pageTimer: ReturnType<typeof setTimeout> | undefined;
  const schedulePageIn = () => {
    clearTimeout(pageTimer);
    pageTimer = setTimeout(() => void pageIn(), 120); // once the wheel or drag settles
  };
  const selectStep = (event: TraceEvent) => {
    const step = Number(event.args?.Step);
    const span = stepSpan({ traceEvents: events }, step, step);
    if (span) {
      const margin = (span[1] - span[0]) * 0.02;
      view = { from: span[0] - margin, to: span[1] + margin };
      viewChanged();
    }
  };

  const defs = () => {
    const marker = svgEl('marker', { id: 'torsh-flow-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
      markerWidth: 6, markerHeight: 6, orient: 'auto' }, svgEl('defs', {}, svg));
    svgEl('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'torsh-flow-head' }, marker);
  };
  const draw = () => {
    svg.replaceChildren();
    defs();
    const width = svg.getBoundingClientRect().width || 800;
    const x = (t: number) => ((t - view.from) / (view.to - view.from)) * width;
    const query = search.value.trim().toLowerCase();
    let matches = 0;
    drawAxis(svg, view.from - t0, view.to - t0, width);
    if (memory.length) {
      drawMemory(svg, memory, x, width);
    }
    let y = AXIS + memoryHeight;
    const laneTop = new Map<string, number>();
    for (const lane of lanes) {
      svgEl('text', { x: 2, y: y + 13, class: 'torsh-lane-name' }, svg).textContent = lane.name;
      drawInstants(svg, lane, x, width, y + LANE_HEAD - 6);
      y += LANE_HEAD;
      laneTop.set(lane.key, y);
      const coveredTo: number[] = []; // per depth: the pixel up to which sub-pixel calls are already marked
      for (const s of lane.slices) {
        const hit = !!query && s.event.name.toLowerCase().includes(query);
        matches += hit ? 1 : 0;
        const a = x(s.start);
        const b = x(s.end);
        if (b < 0 || a > width) {
          continue; // outside the view: not drawn, so zooming into a long trace stays fast
        }
        if (coalesce && b - a < 1 && !hit) {
          if (a < (coveredTo[s.depth] ?? -Infinity)) {
            continue; // this pixel column already has a mark at this depth
          }
          coveredTo[s.depth] = Math.floor(a) + 1;
        }
        const w = Math.max(b - a, 0.5);
        const source = sourceOf(s.event);
        const g = svgEl('g', { class: 'torsh-slice' + (hit ? ' torsh-match' : query ? ' torsh-dim' : '') +
          (source ? ' torsh-has-source' : '') }, svg);
        svgEl('rect', { x: a, y: y + s.depth * ROW, width: w, height: ROW - 2, fill: sliceColour(s.event) }, g);
        if (w > LABEL_MIN_PX) {
          svgEl('text', { x: Math.max(a, 0) + 3, y: y + s.depth * ROW + 12 }, g).textContent =
            s.event.name.slice(0, Math.floor(w / 6.5));
        }
        svgEl('title', {}, g).textContent = `${s.event.name}\n${(s.end - s.start).toFixed(3)} us ` +
          `(self ${s.self.toFixed(3)} us)` + (s.event.cat ? `\ncat: ${s.event.cat}` : '') +
          (source ? `\nsource: ${sourceText(source)} (${source.file}:${source.line}, click to open)` : '') + argsText(s.event.args);
        if (source) {
          g.addEventListener('click', () => openSource(source, g));
        } else if (s.event.cat === 'step_summary' && pages) {
          g.addEventListener('click', () => selectStep(s.event));
        }
      }
      y += lane.depth * ROW;
    }
    drawFlows(svg, arrows, lanes, laneTop, x, width);
    found.textContent = query ? `${matches} event(s) named like "${search.value.trim()}"` : '';
    table.filter(query);
    svg.dataset.view = `${view.from},${view.to}`;
  };
  /** The user moved the view (wheel, drag, a step clicked): draw, then read the pages it reaches. Not on the
   * first draw nor on resize: opening a paged trace reads its main file only. */
  const viewChanged = () => {
    draw();
    if (pages && loadPage) {
      schedulePageIn();
    }
  };
  search.addEventListener('input', () => draw());
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
    viewChanged();
  });
  let dragX: number | null = null;
  svg.addEventListener('pointerdown', ev => (dragX = ev.clientX));
  svg.addEventListener('pointermove', ev => {
    if (dragX !== null) {
      const dt = ((ev.clientX - dragX) / Math.max(svg.getBoundingClientRect().width, 1)) * (view.to - view.from);
      view = { from: view.from - dt, to: view.to - dt };
      dragX = ev.clientX;
      viewChanged();
    }
  });
  svg.addEventListener('pointerup', () => (dragX = null));
  svg.addEventListener('pointerleave', () => (dragX = null));
  svg.addEventListener('dblclick', () => {
    view = { from: t0, to: t1 + (t1 - t0) * 0.01 || t0 + 1 };
    draw();
  });
}

/** Instant events ([memory] allocations, dispatch decisions) as small ticks at the top of their lane. */
function drawInstants(svg: SVGSVGElement, lane: Lane, x: (t: number) => number, width: number, y: number): void {
  const coalesce = lane.instants.length > MANY_SLICES; // then one tick per pixel column
  let coveredTo = -Infinity;
  for (const e of lane.instants) {
    const px = x(e.ts);
    if (px < 0 || px > width || (coalesce && px < coveredTo)) {
      continue;
    }
    coveredTo = Math.floor(px) + 1;
    const g = svgEl('g', { class: 'torsh-instant' }, svg);
    svgEl('path', { d: `M ${px - 3} ${y} L ${px + 3} ${y} L ${px} ${y + 5} z` }, g);
    svgEl('title', {}, g).textContent = e.name + argsText(e.args);
  }
}

/** Forward -> backward arrows from the start of the forward op to the start of its backward node. */
function drawFlows(svg: SVGSVGElement, arrows: Flow[], lanes: Lane[], laneTop: Map<string, number>, x: (t: number) => number,
  width: number): void {
  const byKey = new Map(lanes.map(l => [l.key, l]));
  const end = (lane: string, ts: number): [number, number] | null => {
    const l = byKey.get(lane);
    const s = l && sliceAt(l, ts);
    return s ? [x(ts), laneTop.get(lane)! + s.depth * ROW + (ROW - 2) / 2] : null;
  };
  let drawn = 0;
  for (const f of arrows) {
    const [fa, fb] = [x(f.from.ts), x(f.to.ts)];
    if ((fa < 0 && fb < 0) || (fa > width && fb > width) || drawn >= MAX_FLOWS_DRAWN) {
      continue; // out of view (checked before the slice search, which scans the lane)
    }
    drawn += 1;
    const a = end(f.from.lane, f.from.ts);
    const b = end(f.to.lane, f.to.ts);
    if (!a || !b || (a[0] < 0 && b[0] < 0) || (a[0] > width && b[0] > width)) {
      continue;
    }
    const mid = (a[0] + b[0]) / 2;
    const g = svgEl('g', { class: 'torsh-flow' }, svg);
    svgEl('path', { d: `M ${a[0]} ${a[1]} C ${mid} ${a[1]} ${mid} ${b[1]} ${b[0]} ${b[1]}`,
      'marker-end': 'url(#torsh-flow-arrow)' }, g);
    svgEl('title', {}, g).textContent = 'forward op -> its backward node';
  }
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

/** The op table, as wide as the output (names wrap): ``fill`` puts in the rows (summary rows first,
 * then again with the call sites once the events are read), ``filter`` keeps the rows whose name matches. */
function renderOpTable(host: HTMLElement, first: OpTotal[]): {
  fill: (totals: OpTotal[], sources: Map<string, SourceLine>) => void; filter: (query: string) => void } {
  const table = htmlEl('table', { class: 'torsh-table torsh-op-table' }, host);
  const head = htmlEl('tr', {}, htmlEl('thead', {}, table));
  for (const h of ['op', 'calls', 'self (us)', 'total (us)', 'avg (us)', '% self', 'source']) {
    htmlEl('th', {}, head, h);
  }
  const body = htmlEl('tbody', {}, table);
  let rows: HTMLTableRowElement[] = [];
  let query = '';
  const filter = (q: string) => {
    query = q;
    rows.forEach(r => (r.style.display = !q || r.dataset.name!.includes(q) ? '' : 'none'));
  };
  const fill = (totals: OpTotal[], sources: Map<string, SourceLine>) => {
    const all = totals.reduce((a, t) => a + t.selfUs, 0) || 1;
    body.replaceChildren();
    rows = totals.slice(0, 40).map(t => {
      const row = htmlEl('tr', { 'data-name': t.name.toLowerCase() }, body);
      for (const cell of [t.name, String(t.count), t.selfUs.toFixed(1), t.totalUs.toFixed(1),
        (t.totalUs / t.count).toFixed(2), ((100 * t.selfUs) / all).toFixed(1)]) {
        htmlEl('td', {}, row, cell);
      }
      const source = t.source ?? sources.get(t.name);
      const cell = htmlEl('td', { class: 'torsh-source' }, row);
      if (source) {
        sourceLink(cell, source);
      }
      return row;
    });
    filter(query);
  };
  fill(first, new Map());
  return { fill, filter };
}

function summaryCaption(summary: TraceSummary | null): string {
  if (!summary || summary.steps <= 1) {
    return '';
  }
  const detail = summary.detailedSteps;
  const partial = detail && detail[1] - detail[0] + 1 < summary.steps;
  return `${summary.steps} steps in the table` + (partial
    ? `, calls of steps ${detail![0]}-${detail![1]} in the chart` +
      (summary.keepSteps ? ` (keep_steps=${summary.keepSteps})` : ' (export_chrome_trace has all)') : '');
}

/** The time range of the events read, widened to every page's (a run without a step track). */
function spanWithPages([t0, t1]: [number, number], pages: TracePages | null): [number, number] {
  const all = pages?.pages ?? [];
  return all.length ? [Math.min(t0, ...all.map(p => p.ts[0])), Math.max(t1, ...all.map(p => p.ts[1]))] : [t0, t1];
}

function pagesCaption(pages: TracePages | null, loaded: Set<number>): string {
  return pages ? `; detail in ${pages.pages.length} pages, ${loaded.size} read (zoom in or click a step to read its page)` : '';
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

/** Summarized steps (their calls not kept, torsh keep_steps) grey, kept steps blue, calls by name. */
function sliceColour(event: TraceEvent): string {
  if (event.cat === 'step_summary') {
    return event.args?.Detailed === 0 ? '#d9d9d9' : '#9ecae1';
  }
  return colour(event.name);
}

function colour(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) {
    h = (h * 31 + name.charCodeAt(i)) >>> 0;
  }
  return `hsl(${h % 360}, 55%, 70%)`;
}
