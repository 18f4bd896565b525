// Geometry of the graph layout and the flame chart's lanes, on torsh's own documents and on
// small cases whose answer is known.
import { describe, expect, it } from 'vitest';

import { assignLayers, GraphDoc, GraphNode, layoutGraph, nodeDetail } from '../src/graph-layout';
import { buildLanes, counterSeries, nest, opTotals, TraceDoc, TraceEvent } from '../src/trace-model';
import { examples } from './examples';

function node(id: string, kind: GraphNode['kind'] = 'op', module: string | null = null): GraphNode {
  return { id, kind, label: id, op: kind === 'op' ? id : null, shape: [2, 3], dtype: 'float32',
    saved_bytes: 0, released: false, module };
}

function expectEdgesPointDown(doc: GraphDoc): void {
  const layout = layoutGraph(doc);
  expect(layout.nodes.size).toBe(doc.nodes.length);
  for (const e of doc.edges) {
    const s = layout.nodes.get(e.source)!;
    const t = layout.nodes.get(e.target)!;
    expect(s.layer).toBeLessThan(t.layer);
    expect(s.y + s.height).toBeLessThan(t.y);
  }
}

function expectNoOverlap(doc: GraphDoc): void {
  const placed = [...layoutGraph(doc).nodes.values()];
  for (let i = 0; i < placed.length; i++) {
    for (let j = i + 1; j < placed.length; j++) {
      const a = placed[i];
      const b = placed[j];
      const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
      expect(apart, `${a.node.id} overlaps ${b.node.id}`).toBe(true);
    }
  }
}

describe('graph layout', () => {
  const diamond: GraphDoc = {
    version: 1,
    nodes: [node('out', 'output'), node('add'), node('mul'), node('exp'), node('x', 'leaf')],
    edges: [
      { source: 'x', target: 'mul', output_nr: 0, input_nr: 0 },
      { source: 'x', target: 'exp', output_nr: 0, input_nr: 0 },
      { source: 'exp', target: 'mul', output_nr: 0, input_nr: 1 },
      { source: 'mul', target: 'add', output_nr: 0, input_nr: 0 },
      { source: 'x', target: 'add', output_nr: 0, input_nr: 1 },
      { source: 'add', target: 'out', output_nr: 0, input_nr: 0 }
    ],
    groups: []
  };

  it('layers are longest paths from the inputs', () => {
    const layers = assignLayers(diamond);
    expect(Object.fromEntries(layers)).toEqual({ x: 0, exp: 1, mul: 2, add: 3, out: 4 });
  });
  it("puts each edge's source above its target, nodes apart", () => {
    expectEdgesPointDown(diamond);
    expectNoOverlap(diamond);
  });
  it('a module group box encloses its nodes, the parent box encloses the child box', () => {
    const doc: GraphDoc = {
      version: 1,
      nodes: [node('a', 'op', 'enc.0'), node('b', 'op', 'enc.1'), node('w', 'parameter', 'enc.0')],
      edges: [{ source: 'w', target: 'a', output_nr: 0, input_nr: 0 }, { source: 'a', target: 'b', output_nr: 0, input_nr: 0 }],
      groups: [
        { id: 'g:enc', label: 'enc', module: 'enc', parent: null, nodes: ['a', 'b', 'w'] },
        { id: 'g:enc.0', label: 'enc.0', module: 'enc.0', parent: 'g:enc', nodes: ['a', 'w'] }
      ]
    };
    const layout = layoutGraph(doc);
    const [outer, inner] = layout.groups;
    const inside = (p: { x: number; y: number; width: number; height: number }, box: typeof p) =>
      p.x > box.x && p.y > box.y && p.x + p.width < box.x + box.width && p.y + p.height < box.y + box.height;
    expect(inside(layout.nodes.get('a')!, inner)).toBe(true);
    expect(inside(layout.nodes.get('w')!, inner)).toBe(true);
    expect(inside(inner, outer)).toBe(true);
    expect(inside(layout.nodes.get('b')!, outer)).toBe(true);
  });
  it('a long chain does not overflow the stack', () => {
    const n = 20000;
    const doc: GraphDoc = { version: 1, nodes: [], edges: [], groups: [] };
    for (let i = 0; i < n; i++) {
      doc.nodes.push(node(`n${i}`));
      if (i) {
        doc.edges.push({ source: `n${i - 1}`, target: `n${i}`, output_nr: 0, input_nr: 0 });
      }
    }
    expect(assignLayers(doc).get(`n${n - 1}`)).toBe(n - 1);
  });
  it('node detail shows shape, dtype and saved bytes', () => {
    expect(nodeDetail({ ...node('m'), saved_bytes: 2048 })).toBe('[2, 3] float32 saved 2.0 KiB');
  });
  it.each(examples('.graph.json'))('torsh graph %s: edges point down, nodes apart', (_name, doc) => {
    expectEdgesPointDown(doc);
    expectNoOverlap(doc);
  });
});

function x(name: string, ts: number, dur: number, tid = 1): TraceEvent {
  return { ph: 'X', name, pid: 1, tid, ts, dur };
}

describe('flame chart lanes', () => {
  it('nested events stack, siblings share a row, touching events do not nest', () => {
    const slices = nest([x('step', 0, 100), x('mm', 50, 10), x('forward', 0, 40), x('add', 5, 10), x('mul', 15, 25), x('tail', 100, 5)]);
    const depth = Object.fromEntries(slices.map(s => [s.event.name, s.depth]));
    expect(depth).toEqual({ step: 0, forward: 1, add: 2, mul: 2, mm: 1, tail: 0 });
  });
  it('one lane per thread, named and ordered by the metadata events', () => {
    const doc: TraceDoc = {
      traceEvents: [
        { ph: 'M', name: 'thread_name', pid: 1, tid: 2, ts: 0, args: { name: 'worker' } },
        { ph: 'M', name: 'thread_sort_index', pid: 1, tid: 2, ts: 0, args: { sort_index: 0 } },
        { ph: 'M', name: 'thread_sort_index', pid: 1, tid: 1, ts: 0, args: { sort_index: 1 } },
        x('a', 0, 10, 1), x('b', 2, 3, 1), x('c', 0, 4, 2)
      ]
    };
    const lanes = buildLanes(doc);
    expect(lanes.map(l => [l.name, l.slices.length, l.depth])).toEqual([['worker', 1, 1], ['thread 1:1', 2, 2]]);
  });
  it('op table sums time and calls per op name', () => {
    const doc: TraceDoc = { traceEvents: [{ ...x('aten::mm', 0, 4), cat: 'cpu_op' }, { ...x('aten::mm', 9, 6), cat: 'cpu_op' },
      { ...x('aten::add', 5, 1), cat: 'cpu_op' }, { ...x('step', 0, 20), cat: 'user_annotation' }] };
    expect(opTotals(doc)).toEqual([{ name: 'aten::mm', count: 2, totalUs: 10 }, { name: 'aten::add', count: 1, totalUs: 1 }]);
  });
  it.each(examples('.trace.json'))('torsh trace %s: every nested slice lies inside one a row above', (_name, doc) => {
    const lanes = buildLanes(doc);
    expect(lanes.length).toBeGreaterThan(0);
    for (const lane of lanes) {
      for (const s of lane.slices.filter(s => s.depth > 0)) {
        const parent = lane.slices.find(p => p.depth === s.depth - 1 && p.start <= s.start && s.start < p.end);
        expect(parent, `${s.event.name} at ${s.start}`).toBeDefined();
      }
    }
    const memory = counterSeries(doc);
    if (doc.profile_memory) {
      expect(memory.length).toBeGreaterThan(0);
      expect(Math.max(...memory.map(m => m[1]))).toBeGreaterThan(0);
    }
    expect(opTotals(doc).length).toBeGreaterThan(0);
  });
});
