// Paged traces (torshPages): which pages a view needs, the span of a selected step, and source links into
// notebook cells ("cell [N], line L").
import { describe, expect, it } from 'vitest';

import { serverPath } from '../src/source-links';
import { opSources, buildLanes, pagesToFetch, sourceOf, sourceText, stepSpan, TracePages, TraceEvent } from '../src/trace-model';

const pages: TracePages = { version: 1, dir: 't.trace.json.pages', events: 60, pages: [
  { file: '0000.json', steps: [0, 9], ts: [0, 100], events: 20 },
  { file: '0001.json', steps: [10, 19], ts: [100, 200], events: 20 },
  { file: null, steps: [20, 29], ts: [200, 300], events: 20 }
] };

describe('pages to fetch', () => {
  it('are the file pages a view overlaps that are not read yet', () => {
    expect(pagesToFetch(pages, 50, 150, new Set([2]), 1000)).toEqual([0, 1]);
    expect(pagesToFetch(pages, 120, 130, new Set([2]), 1000)).toEqual([1]);
    expect(pagesToFetch(pages, 120, 130, new Set([1, 2]), 1000)).toEqual([]);
    expect(pagesToFetch(pages, 250, 280, new Set([2]), 1000)).toEqual([]); // the main file's own page
  });
  it('are none when the view is zoomed out over more events than the budget, or without an index', () => {
    expect(pagesToFetch(pages, 0, 300, new Set([2]), 39)).toEqual([]);
    expect(pagesToFetch(pages, 0, 300, new Set([2]), 40)).toEqual([0, 1]);
    expect(pagesToFetch(null, 0, 300, new Set(), 1000)).toEqual([]);
  });
});

describe('selecting a step', () => {
  it('spans its box on the step track', () => {
    const step = (n: number, ts: number): TraceEvent =>
      ({ ph: 'X', cat: 'step_summary', name: `ProfilerStep#${n}`, pid: 1, tid: 0, ts, dur: 10, args: { Step: n } });
    const doc = { traceEvents: [step(0, 0), step(1, 10), step(2, 20)] };
    expect(stepSpan(doc, 1, 1)).toEqual([10, 20]);
    expect(stepSpan(doc, 0, 2)).toEqual([0, 30]);
    expect(stepSpan(doc, 5, 6)).toBeNull();
  });
});

describe('source links into notebook cells', () => {
  const call = (args: Record<string, unknown>): TraceEvent => ({ ph: 'X', cat: 'cpu_op', name: 'aten::mul', pid: 1, tid: 1,
    ts: 0, dur: 1, args: { 'Source file': '/tmp/ipykernel_7/123.py', 'Source line': 2, ...args } });
  it('name the cell and the line when the op ran in a cell, the file otherwise', () => {
    const inCell = sourceOf(call({ 'Source cell': 4 }))!;
    expect(inCell).toEqual({ file: '/tmp/ipykernel_7/123.py', line: 2, cell: 4 });
    expect(sourceText(inCell)).toBe('cell [4], line 2');
    expect(sourceText(sourceOf(call({}))!)).toBe('123.py:2');
    expect(opSources(buildLanes({ traceEvents: [call({ 'Source cell': 4 })] })).get('aten::mul')?.cell).toBe(4);
    expect(serverPath('/tmp/ipykernel_7/123.py', '/srv/lab')).toBeNull(); // the cell, not a file, is what opens
  });
});
