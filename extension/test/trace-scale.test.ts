// Traces that scale and source links: the summary rows, the call site per op, and the mapping of a
// kernel's file path to a path under the Jupyter server's root.
import { describe, expect, it } from 'vitest';

import { serverPath } from '../src/source-links';
import { buildLanes, opSources, summaryTotals, TraceDoc, TraceEvent } from '../src/trace-model';

const op = (name: string, ts: number, dur: number, args: Record<string, unknown> = {}): TraceEvent =>
  ({ ph: 'X', cat: 'cpu_op', name, pid: 1, tid: 1, ts, dur, args });

describe('summary rows', () => {
  it('come from torshSummary (ops only, most self time first), null without one', () => {
    const doc: TraceDoc = { traceEvents: [], torshSummary: { steps: 3, keepSteps: 1, detailedSteps: [2, 2], ops: [
      { name: 'aten::add', cat: 'cpu_op', count: 30, total_us: 9, self_us: 3, min_us: 0, max_us: 1, memory: 0, self_memory: 0 },
      { name: 'step', cat: 'user_annotation', count: 3, total_us: 99, self_us: 90, min_us: 0, max_us: 1, memory: 0, self_memory: 0 },
      { name: 'aten::mul', cat: 'cpu_op', count: 30, total_us: 12, self_us: 12, min_us: 0, max_us: 1, memory: 0, self_memory: 0 }
    ] } };
    expect(summaryTotals(doc)!.map(t => [t.name, t.count, t.selfUs])).toEqual([['aten::mul', 30, 12], ['aten::add', 30, 3]]);
    expect(summaryTotals({ traceEvents: [] })).toBeNull();
  });
});

describe('source links', () => {
  it('pick the call site where an op spent the most time', () => {
    const at = (line: number) => ({ 'Source file': '/r/train.py', 'Source line': line });
    const lanes = buildLanes({ traceEvents: [op('aten::mul', 0, 1, at(5)), op('aten::mul', 2, 5, at(9)),
      op('aten::mul', 8, 1, at(5)), op('aten::add', 10, 1)] });
    const sources = opSources(lanes);
    expect(sources.get('aten::mul')).toEqual({ file: '/r/train.py', line: 9 });
    expect(sources.has('aten::add')).toBe(false);
  });

  it('map kernel paths under the server root, and only those', () => {
    expect(serverPath('/srv/lab/nb/train.py', '/srv/lab')).toBe('nb/train.py');
    expect(serverPath('/srv/lab/nb/train.py', '/srv/lab/')).toBe('nb/train.py');
    expect(serverPath('/srv/labs/train.py', '/srv/lab')).toBeNull();
    expect(serverPath('/home/ann/work/train.py', '~/work')).toBe('train.py');
    expect(serverPath('/home/ann/work/train.py', '~')).toBe('work/train.py');
    expect(serverPath('train.py', '/srv/lab')).toBe('train.py');
  });
});
