// Chrome trace (docs/schemas/trace.schema.json) -> lanes of nested slices, op totals, memory curve.
// Pure functions, no DOM.

export const TRACE_SCHEMA_VERSION = 1;

export interface TraceEvent {
  ph: string;
  name: string;
  cat?: string;
  pid: number;
  tid?: number;
  ts: number;
  dur?: number;
  args?: Record<string, unknown>;
  id?: number | string; // flow events
  s?: string; // instant scope
}
export interface TraceDoc {
  traceEvents: TraceEvent[];
  schemaVersion?: number;
  torshSummary?: TraceSummary | null;
  torshPages?: TracePages | null;
}
/** A big trace's page index (chrome_trace.py): the main file holds the last page's detail (``file`` null),
 * ``dir`` (relative to the main file) the other pages, each ``{"traceEvents": [...], "torshPage": entry}``. */
export interface TracePages {
  version: number;
  dir: string;
  events: number;
  pages: TracePage[];
}
export interface TracePage {
  file: string | null;
  steps: [number, number] | null;
  ts: [number, number];
  events: number;
}
/** torsh's running summaries (chrome_trace.py): per-op totals over every step, also the steps whose
 * detail ``keep_steps`` dropped; read before the events so a long run's table shows at once. */
export interface TraceSummary {
  steps: number;
  keepSteps: number | null;
  detailedSteps: [number, number] | null;
  ops: Array<{ name: string; cat: string; count: number; total_us: number; self_us: number; min_us: number;
    max_us: number; memory: number; self_memory: number }>;
}
/** The line of user code that called an op (``with_stack=True``: args Source file / Source line). */
export interface SourceLine {
  file: string;
  line: number;
  cell?: number; // code run in a notebook cell (args Source cell): its execution count, In [N]
}

export interface Slice {
  event: TraceEvent;
  start: number;
  end: number;
  depth: number;
  self: number; // duration less that of the slices directly inside it (us)
}
export interface Lane {
  key: string; // "pid:tid"
  name: string;
  slices: Slice[];
  depth: number; // number of rows
  instants: TraceEvent[]; // "i"/"I" events of this thread
}
export interface OpTotal {
  name: string;
  count: number;
  totalUs: number;
  selfUs: number;
  source?: SourceLine; // the call site where the op spent the most time, when the trace has sources
}
/** A forward -> backward arrow: Chrome flow events "s" (start) and "f" (finish) paired by id. */
export interface Flow {
  id: string;
  from: { lane: string; ts: number };
  to: { lane: string; ts: number };
}

/** One lane per (pid, tid) with complete ("X") events; a slice nested in another gets depth + 1. */
export function buildLanes(doc: TraceDoc): Lane[] {
  const names = new Map<string, string>();
  const order = new Map<string, number>();
  const byLane = new Map<string, TraceEvent[]>();
  const instants = new Map<string, TraceEvent[]>();
  for (const e of doc.traceEvents) {
    const key = `${e.pid}:${e.tid ?? 0}`;
    if (e.ph === 'M' && e.name === 'thread_name') {
      names.set(key, String(e.args?.name ?? key));
    } else if (e.ph === 'M' && e.name === 'thread_sort_index') {
      order.set(key, Number(e.args?.sort_index ?? 0));
    } else if (e.ph === 'X') {
      (byLane.get(key) ?? byLane.set(key, []).get(key)!).push(e);
    } else if (e.ph === 'i' || e.ph === 'I') {
      (instants.get(key) ?? instants.set(key, []).get(key)!).push(e);
      byLane.set(key, byLane.get(key) ?? []);
    }
  }
  const lanes = [...byLane.entries()].map(([key, events]) => {
    const slices = nest(events);
    return { key, name: names.get(key) ?? `thread ${key}`, slices,
      depth: Math.max(1, slices.reduce((d, s) => Math.max(d, s.depth + 1), 0)),
      instants: (instants.get(key) ?? []).sort((a, b) => a.ts - b.ts) };
  });
  return lanes.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0) || a.key.localeCompare(b.key));
}

/** Depth of each slice: the number of still-open slices that enclose its start. */
export function nest(events: TraceEvent[]): Slice[] {
  const sorted = [...events].sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
  const open: Slice[] = []; // the enclosing slices, innermost last
  const eps = 1e-3; // timestamps are rounded to ns, so a child may end 1 ns after its parent
  return sorted.map(event => {
    const start = event.ts;
    const end = event.ts + (event.dur ?? 0);
    while (open.length && open[open.length - 1].end <= start + eps) {
      open.pop();
    }
    const slice = { event, start, end, depth: open.length, self: end - start };
    if (open.length) {
      open[open.length - 1].self -= end - start;
    }
    open.push(slice);
    return slice;
  });
}

/** Forward -> backward arrows: each "s" event paired with the "f" event of the same cat and id. */
export function flows(doc: TraceDoc): Flow[] {
  const starts = new Map<string, TraceEvent>();
  const found: Flow[] = [];
  const lane = (e: TraceEvent) => `${e.pid}:${e.tid ?? 0}`;
  for (const e of doc.traceEvents) {
    const key = `${e.cat ?? ''}:${String(e.id)}`;
    if (e.ph === 's') {
      starts.set(key, e);
    } else if (e.ph === 'f' && starts.has(key)) {
      const s = starts.get(key)!;
      found.push({ id: key, from: { lane: lane(s), ts: s.ts }, to: { lane: lane(e), ts: e.ts } });
    }
  }
  return found;
}

/** The slice a flow end binds to: the innermost one on its lane that starts at ``ts`` (else encloses it). */
export function sliceAt(lane: Lane, ts: number): Slice | undefined {
  const eps = 1e-3;
  let best: Slice | undefined;
  for (const s of lane.slices) {
    if (s.start - eps <= ts && ts <= s.end + eps && (!best || s.depth > best.depth)) {
      best = s;
    }
  }
  return best;
}

/** Calls, total and self time per event name over the op events (cat cpu_op, or all X events if none),
 * most self time first. Self time is measured on the flame chart's nesting (all X events). */
export function opTotals(doc: TraceDoc, lanes: Lane[] = buildLanes(doc)): OpTotal[] {
  const slices = lanes.flatMap(l => l.slices);
  const ops = slices.some(s => s.event.cat === 'cpu_op') ? slices.filter(s => s.event.cat === 'cpu_op') : slices;
  const totals = new Map<string, OpTotal>();
  for (const s of ops) {
    const name = s.event.name;
    const t = totals.get(name) ?? totals.set(name, { name, count: 0, totalUs: 0, selfUs: 0 }).get(name)!;
    t.count += 1;
    t.totalUs += s.end - s.start;
    t.selfUs += s.self;
  }
  return [...totals.values()].sort((a, b) => b.selfUs - a.selfUs || b.totalUs - a.totalUs);
}

/** Op rows over every step from torsh's summary (ops, else every key), most self time first; null without one. */
export function summaryTotals(doc: TraceDoc): OpTotal[] | null {
  const ops = doc.torshSummary?.ops;
  if (!ops) {
    return null;
  }
  const chosen = ops.some(o => o.cat === 'cpu_op') ? ops.filter(o => o.cat === 'cpu_op') : ops;
  return chosen.map(o => ({ name: o.name, count: o.count, totalUs: o.total_us, selfUs: o.self_us }))
    .sort((a, b) => b.selfUs - a.selfUs || b.totalUs - a.totalUs);
}

export function sourceOf(e: TraceEvent): SourceLine | null {
  const file = e.args?.['Source file'];
  const line = e.args?.['Source line'];
  const cell = e.args?.['Source cell'];
  if (typeof file !== 'string' || typeof line !== 'number') {
    return null;
  }
  return typeof cell === 'number' ? { file, line, cell } : { file, line };
}

/** What a source link reads: ``cell [N], line L`` for code run in a notebook cell, else ``name.py:line``. */
export function sourceText(source: SourceLine): string {
  return source.cell !== undefined ? `cell [${source.cell}], line ${source.line}` : `${source.file.split('/').pop()}:${source.line}`;
}

/** Per op name: the call site (Source file:line) where its recorded calls spent the most time. */
export function opSources(lanes: Lane[]): Map<string, SourceLine> {
  const time = new Map<string, Map<string, { source: SourceLine; us: number }>>();
  for (const lane of lanes) {
    for (const s of lane.slices) {
      const source = sourceOf(s.event);
      if (!source) {
        continue;
      }
      const sites = time.get(s.event.name) ?? time.set(s.event.name, new Map()).get(s.event.name)!;
      const key = `${source.file}:${source.line}`;
      const site = sites.get(key) ?? sites.set(key, { source, us: 0 }).get(key)!;
      site.us += s.end - s.start;
    }
  }
  const best = new Map<string, SourceLine>();
  for (const [name, sites] of time) {
    best.set(name, [...sites.values()].reduce((a, b) => (b.us > a.us ? b : a)).source);
  }
  return best;
}

/** The "C" counter samples (first numeric arg), time-ordered: torsh's CPU Memory live bytes. */
export function counterSeries(doc: TraceDoc, name = 'CPU Memory'): Array<[number, number]> {
  return doc.traceEvents
    .filter(e => e.ph === 'C' && e.name === name && e.args)
    .map(e => [e.ts, Number(Object.values(e.args!)[0])] as [number, number])
    .sort((a, b) => a[0] - b[0]);
}

export function timeRange(lanes: Lane[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const lane of lanes) {
    for (const s of lane.slices) {
      lo = Math.min(lo, s.start);
      hi = Math.max(hi, s.end);
    }
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

/** The pages a view over [from, to] (us) still needs: those it overlaps that are neither loaded nor in the
 * main file, or none when together they hold more than ``budget`` events (zoomed out too far to draw them). */
export function pagesToFetch(pages: TracePages | null | undefined, from: number, to: number, loaded: Set<number>,
  budget: number): number[] {
  if (!pages) {
    return [];
  }
  const wanted = pages.pages
    .map((page, index) => ({ page, index }))
    .filter(({ page, index }) => page.file !== null && !loaded.has(index) && page.ts[1] >= from && page.ts[0] <= to);
  const events = wanted.reduce((n, w) => n + w.page.events, 0);
  return events > budget ? [] : wanted.map(w => w.index);
}

/** The time span (us) of steps ``first``..``last`` on the step track (cat step_summary), or null. */
export function stepSpan(doc: TraceDoc, first: number, last: number): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const e of doc.traceEvents) {
    const step = e.args?.Step;
    if (e.cat === 'step_summary' && typeof step === 'number' && step >= first && step <= last) {
      lo = Math.min(lo, e.ts);
      hi = Math.max(hi, e.ts + (e.dur ?? 0));
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

/** Why a document cannot be drawn, or null when it can. */
export function traceProblem(doc: unknown): string | null {
  const d = doc as TraceDoc;
  if (!d || typeof d !== 'object' || !Array.isArray(d.traceEvents)) {
    return 'not a Chrome trace: no traceEvents array';
  }
  if (d.schemaVersion !== undefined && d.schemaVersion !== TRACE_SCHEMA_VERSION) {
    return `unsupported trace schemaVersion ${d.schemaVersion} (this viewer reads version ${TRACE_SCHEMA_VERSION})`;
  }
  return null;
}
