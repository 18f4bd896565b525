// Geometry of the graph layout and the flame chart's lanes, on torsh's own documents and on
// small cases whose answer is known.
import { describe, expect, it } from 'vitest';

import { findRepeats, GraphDoc, GraphGroup, GraphNode, Layout, layoutGraph, nodeDetail } from '../src/graph-layout';
import { buildLanes, counterSeries, flows, nest, opTotals, sliceAt, TraceDoc, TraceEvent } from '../src/trace-model';
import { examples } from './examples';

function node(id: string, kind: GraphNode['kind'] = 'op', module: string | null = null): GraphNode {
  return { id, kind, label: id, op: kind === 'op' ? id : null, shape: [2, 3], dtype: 'float32',
    saved_bytes: 0, released: false, module };
}

type Rect = { x: number; y: number; width: number; height: number };
const apart = (a: Rect, b: Rect) =>
  a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
const inside = (p: Rect, box: Rect) =>
  p.x >= box.x && p.y >= box.y && p.x + p.width <= box.x + box.width && p.y + p.height <= box.y + box.height;

/** What a readable drawing needs: nodes apart, each node inside exactly the boxes of its modules, group boxes
 * nested or apart (never overlapping), captions inside their boxes and clear of the nodes, edges from source to target. */
function expectReadable(doc: GraphDoc, layout: Layout): void {
  const placed = [...layout.nodes.values()];
  for (let i = 0; i < placed.length; i++) {
    for (let j = i + 1; j < placed.length; j++) {
      expect(apart(placed[i], placed[j]), `${placed[i].id} overlaps ${placed[j].id}`).toBe(true);
    }
  }
  const visibleMembers = (g: GraphGroup) => new Set(placed.filter(p =>
    (p.node && g.nodes.includes(p.node.id)) || (p.fold && p.fold.members.some(m => g.nodes.includes(m)))).map(p => p.id));
  for (const g of layout.groups) {
    const members = visibleMembers(g.group);
    for (const p of placed) {
      if (members.has(p.id)) {
        expect(inside(p, g), `${p.id} outside its group ${g.group.id}`).toBe(true);
      } else {
        expect(apart(p, g), `${p.id} inside the foreign group ${g.group.id}`).toBe(true);
      }
      expect(apart(p, g.label), `caption of ${g.group.id} over ${p.id}`).toBe(true);
    }
    expect(inside(g.label, g), `caption of ${g.group.id} outside its box`).toBe(true);
    expect(g.label.text.length).toBeGreaterThan(0);
    for (const other of layout.groups) {
      if (other === g) {
        continue;
      }
      const nested = inside(g, other) || inside(other, g);
      expect(nested || apart(g, other), `${g.group.id} and ${other.group.id} overlap`).toBe(true);
      if (inside(g, other)) {
        expect(g.group.module.startsWith(other.group.module + '.'), `${g.group.id} drawn inside ${other.group.id}`).toBe(true);
      }
    }
  }
  for (const e of layout.edges) {
    const [sx, sy] = e.points[0];
    const [tx, ty] = e.points[e.points.length - 1];
    const s = layout.nodes.get(e.source)!;
    const t = layout.nodes.get(e.target)!;
    expect(sx >= s.x - 1 && sx <= s.x + s.width + 1 && Math.abs(sy - (s.y + s.height)) < 1, `edge leaves ${e.source}`).toBe(true);
    expect(tx >= t.x - 1 && tx <= t.x + t.width + 1 && Math.abs(ty - t.y) < 1, `edge enters ${e.target}`).toBe(true);
    // orthogonal routing: every segment is horizontal or vertical, and none crosses a node's box
    for (let i = 1; i < e.points.length; i++) {
      const [x0, y0] = e.points[i - 1];
      const [x1, y1] = e.points[i];
      expect(Math.abs(x0 - x1) < 0.5 || Math.abs(y0 - y1) < 0.5).toBe(true);
      const seg = { x: Math.min(x0, x1), y: Math.min(y0, y1), width: Math.abs(x1 - x0), height: Math.abs(y1 - y0) };
      for (const p of placed) {
        const shrunk = { x: p.x + 1, y: p.y + 1, width: p.width - 2, height: p.height - 2 };
        expect(apart(seg, shrunk), `edge ${e.source}->${e.target} passes through ${p.id}`).toBe(true);
      }
    }
  }
}

/** A ModuleList of ``n`` identical blocks (Linear + ReLU), each block feeding the next. */
function stack(n: number): GraphDoc {
  const doc: GraphDoc = { version: 1, nodes: [node('x', 'leaf')], edges: [], groups: [] };
  doc.groups.push({ id: 'g:layers', label: 'layers (ModuleList)', module: 'layers', type: 'ModuleList', parent: null, nodes: [] });
  let prev = 'x';
  for (let i = 0; i < n; i++) {
    const m = `layers.${i}`;
    const ids = [`w${i}`, `mm${i}`, `relu${i}`];
    doc.nodes.push({ ...node(ids[0], 'parameter', m), label: `${m}.weight` }, { ...node(ids[1], 'op', m), op: 'mm' },
      { ...node(ids[2], 'op', m), op: 'relu' });
    doc.edges.push({ source: prev, target: ids[1], output_nr: 0, input_nr: 0 },
      { source: ids[0], target: ids[1], output_nr: 0, input_nr: 1 }, { source: ids[1], target: ids[2], output_nr: 0, input_nr: 0 });
    doc.groups.push({ id: `g:${m}`, label: `${m} (Block)`, module: m, type: 'Block', parent: 'g:layers', nodes: ids });
    doc.groups[0].nodes.push(...ids);
    prev = ids[2];
  }
  doc.nodes.push(node('out', 'output'));
  doc.edges.push({ source: prev, target: 'out', output_nr: 0, input_nr: 0 });
  return doc;
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

  it("puts each edge's source above its target, nodes apart, edges around nodes", async () => {
    const layout = await layoutGraph(diamond);
    expect(layout.nodes.size).toBe(diamond.nodes.length);
    for (const e of diamond.edges) {
      expect(layout.nodes.get(e.source)!.y + 40).toBeLessThan(layout.nodes.get(e.target)!.y);
    }
    expect(layout.edges.length).toBe(diamond.edges.length);
    expectReadable(diamond, layout);
  });
  it('sibling module boxes do not start at the same corner or swallow each other', async () => {
    const doc: GraphDoc = {
      version: 1,
      nodes: [node('a', 'op', 'enc.0'), node('b', 'op', 'enc.1'), node('w', 'parameter', 'enc.0'), node('c', 'op', 'dec')],
      edges: [{ source: 'w', target: 'a', output_nr: 0, input_nr: 0 }, { source: 'a', target: 'b', output_nr: 0, input_nr: 0 },
        { source: 'b', target: 'c', output_nr: 0, input_nr: 0 }],
      groups: [
        { id: 'g:dec', label: 'dec (Linear)', module: 'dec', type: 'Linear', parent: null, nodes: ['c'] },
        { id: 'g:enc', label: 'enc', module: 'enc', type: 'Sequential', parent: null, nodes: ['a', 'b', 'w'] },
        { id: 'g:enc.0', label: 'enc.0 (Linear)', module: 'enc.0', type: 'Linear', parent: 'g:enc', nodes: ['a', 'w'] },
        { id: 'g:enc.1', label: 'enc.1 (ReLU)', module: 'enc.1', type: 'ReLU', parent: 'g:enc', nodes: ['b'] }
      ]
    };
    const layout = await layoutGraph(doc);
    expect(layout.groups.length).toBe(4);
    expectReadable(doc, layout);
    const box = (id: string) => layout.groups.find(g => g.group.id === id)!;
    expect(inside(box('g:enc.0'), box('g:enc'))).toBe(true);
    expect(apart(box('g:enc.0'), box('g:enc.1'))).toBe(true);
    expect(apart(box('g:enc'), box('g:dec'))).toBe(true);
  });
  it('repeated blocks fold into one "Block x 12" box that expands', async () => {
    const doc = stack(12);
    const [fold] = findRepeats(doc);
    expect(fold.label).toBe('Block x 12');
    expect(fold.members.length).toBe(36);
    const folded = await layoutGraph(doc);
    expect([...folded.nodes.keys()].sort()).toEqual([fold.id, 'out', 'x'].sort());
    expect(folded.groups.map(g => g.group.id)).toEqual(['g:layers']);
    expect(folded.edges.map(e => `${e.source}->${e.target}`).sort()).toEqual([`${fold.id}->out`, `x->${fold.id}`]);
    expectReadable(doc, folded);
    const open = await layoutGraph(doc, new Set([fold.id]));
    expect(open.nodes.size).toBe(doc.nodes.length);
    expect(open.groups.length).toBe(13);
    expectReadable(doc, open);
  });
  it('different or unnumbered siblings do not fold', () => {
    const doc = stack(3);
    doc.nodes.find(n => n.id === 'relu1')!.op = 'tanh';
    expect(findRepeats(doc)).toEqual([]); // 0, 1, 2 no longer in a row of equals
    const two = stack(2);
    two.groups.forEach(g => (g.module = g.module.replace(/\.(\d)$/, '.block$1')));
    expect(findRepeats(two)).toEqual([]);
  });
  it('a long chain lays out', async () => {
    const n = 400;
    const doc: GraphDoc = { version: 1, nodes: [], edges: [], groups: [] };
    for (let i = 0; i < n; i++) {
      doc.nodes.push(node(`n${i}`));
      if (i) {
        doc.edges.push({ source: `n${i - 1}`, target: `n${i}`, output_nr: 0, input_nr: 0 });
      }
    }
    const layout = await layoutGraph(doc);
    expect(layout.nodes.get(`n${n - 1}`)!.y).toBeGreaterThan(layout.nodes.get('n0')!.y + (n - 1) * 40);
  });
  it('node detail shows shape, dtype and saved bytes', () => {
    expect(nodeDetail({ ...node('m'), saved_bytes: 2048 })).toBe('[2, 3] float32 saved 2.0 KiB');
  });
  it.each(examples('.graph.json'))('torsh graph %s: readable (boxes, captions, edges)', async (_name, doc) => {
    const layout = await layoutGraph(doc);
    expect(layout.nodes.size).toBe(doc.nodes.length - findRepeats(doc).reduce((a, f) => a + f.members.length - 1, 0));
    expectReadable(doc, layout);
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
    expect(opTotals(doc)).toEqual([{ name: 'aten::mm', count: 2, totalUs: 10, selfUs: 10 },
      { name: 'aten::add', count: 1, totalUs: 1, selfUs: 1 }]);
  });
  it('self time is the duration less the calls directly inside; the table sorts by it', () => {
    const doc: TraceDoc = { traceEvents: [{ ...x('aten::linear', 0, 10), cat: 'cpu_op' }, { ...x('aten::addmm', 1, 8), cat: 'cpu_op' },
      { ...x('aten::copy_', 2, 3), cat: 'cpu_op' }, { ...x('aten::relu', 12, 2), cat: 'cpu_op' }] };
    const self = Object.fromEntries(nest(doc.traceEvents).map(s => [s.event.name, s.self]));
    expect(self).toEqual({ 'aten::linear': 2, 'aten::addmm': 5, 'aten::copy_': 3, 'aten::relu': 2 });
    expect(opTotals(doc).map(t => t.name)).toEqual(['aten::addmm', 'aten::copy_', 'aten::linear', 'aten::relu']);
  });
  it('flow events pair by id into forward -> backward arrows bound to the slices they start', () => {
    const doc: TraceDoc = { traceEvents: [x('aten::mul', 0, 5, 1), x('autograd::engine::evaluate_function: MulBackward0', 20, 6, 2),
      x('MulBackward0', 21, 4, 2),
      { ph: 's', cat: 'fwdbwd', name: 'fwdbwd', id: 7, pid: 1, tid: 1, ts: 0 },
      { ph: 'f', cat: 'fwdbwd', name: 'fwdbwd', id: 7, pid: 1, tid: 2, ts: 21 },
      { ph: 's', cat: 'fwdbwd', name: 'fwdbwd', id: 8, pid: 1, tid: 1, ts: 3 }, // no finish: no arrow
      { ph: 'i', s: 't', name: '[memory]', pid: 1, tid: 2, ts: 22, args: { Bytes: 64 } }] };
    const arrows = flows(doc);
    expect(arrows).toEqual([{ id: 'fwdbwd:7', from: { lane: '1:1', ts: 0 }, to: { lane: '1:2', ts: 21 } }]);
    const lanes = buildLanes(doc);
    const backward = lanes.find(l => l.key === '1:2')!;
    expect(sliceAt(backward, 21)!.event.name).toBe('MulBackward0');
    expect(backward.instants.map(e => e.name)).toEqual(['[memory]']);
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
    // torsh writes a flow per backward node; each binds to a slice at both ends
    const arrows = flows(doc);
    expect(arrows.length).toBeGreaterThan(0);
    const byKey = new Map(lanes.map(l => [l.key, l]));
    for (const f of arrows) {
      expect(sliceAt(byKey.get(f.from.lane)!, f.from.ts), `flow ${f.id} start`).toBeDefined();
      expect(sliceAt(byKey.get(f.to.lane)!, f.to.ts), `flow ${f.id} end`).toBeDefined();
    }
  });
});
