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
}
export interface TraceDoc {
  traceEvents: TraceEvent[];
  schemaVersion?: number;
}

export interface Slice {
  event: TraceEvent;
  start: number;
  end: number;
  depth: number;
}
export interface Lane {
  key: string; // "pid:tid"
  name: string;
  slices: Slice[];
  depth: number; // number of rows
}
export interface OpTotal {
  name: string;
  count: number;
  totalUs: number;
}

/** One lane per (pid, tid) with complete ("X") events; a slice nested in another gets depth + 1. */
export function buildLanes(doc: TraceDoc): Lane[] {
  const names = new Map<string, string>();
  const order = new Map<string, number>();
  const byLane = new Map<string, TraceEvent[]>();
  for (const e of doc.traceEvents) {
    const key = `${e.pid}:${e.tid ?? 0}`;
    if (e.ph === 'M' && e.name === 'thread_name') {
      names.set(key, String(e.args?.name ?? key));
    } else if (e.ph === 'M' && e.name === 'thread_sort_index') {
      order.set(key, Number(e.args?.sort_index ?? 0));
    } else if (e.ph === 'X') {
      (byLane.get(key) ?? byLane.set(key, []).get(key)!).push(e);
    }
  }
  const lanes = [...byLane.entries()].map(([key, events]) => {
    const slices = nest(events);
    return { key, name: names.get(key) ?? `thread ${key}`, slices,
      depth: slices.reduce((d, s) => Math.max(d, s.depth + 1), 0) };
  });
  return lanes.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0) || a.key.localeCompare(b.key));
}

/** Depth of each slice: the number of still-open slices that enclose its start. */
export function nest(events: TraceEvent[]): Slice[] {
  const sorted = [...events].sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
  const open: number[] = []; // end times of the enclosing slices, innermost last
  const eps = 1e-3; // timestamps are rounded to ns, so a child may end 1 ns after its parent
  return sorted.map(event => {
    const start = event.ts;
    const end = event.ts + (event.dur ?? 0);
    while (open.length && open[open.length - 1] <= start + eps) {
      open.pop();
    }
    const depth = open.length;
    open.push(end);
    return { event, start, end, depth };
  });
}

/** Total time and calls per event name over the op events (cat cpu_op, or all X events if none). */
export function opTotals(doc: TraceDoc): OpTotal[] {
  const complete = doc.traceEvents.filter(e => e.ph === 'X');
  const ops = complete.some(e => e.cat === 'cpu_op') ? complete.filter(e => e.cat === 'cpu_op') : complete;
  const totals = new Map<string, OpTotal>();
  for (const e of ops) {
    const t = totals.get(e.name) ?? totals.set(e.name, { name: e.name, count: 0, totalUs: 0 }).get(e.name)!;
    t.count += 1;
    t.totalUs += e.dur ?? 0;
  }
  return [...totals.values()].sort((a, b) => b.totalUs - a.totalUs);
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
