// The documents torsh writes validate against docs/schemas with ajv (draft 2020-12), the same
// schema files the Python tests use; and the viewer's own checks accept them.
import Ajv2020 from 'ajv/dist/2020';
import * as path from 'path';
import { describe, expect, it } from 'vitest';

import { graphProblem } from '../src/graph-layout';
import { parseStats } from '../src/stats';
import { traceProblem } from '../src/trace-model';
import { EXAMPLE_DIR, examples, readJson, SCHEMA_DIR } from './examples';

const ajv = new Ajv2020({ allErrors: true, strict: false });
const validateGraph = ajv.compile(readJson(path.join(SCHEMA_DIR, 'graph.schema.json')));
const validateTrace = ajv.compile(readJson(path.join(SCHEMA_DIR, 'trace.schema.json')));
const validateStats = ajv.compile(readJson(path.join(SCHEMA_DIR, 'stats.schema.json')));

describe.skipIf(!EXAMPLE_DIR)('documents written by torsh', () => {
  const graphs = examples('.graph.json');
  const traces = examples('.trace.json');
  const stats = examples('.stats.json');

  it('include graphs, traces and kernel stats', () => {
    expect(graphs.length).toBeGreaterThan(0);
    expect(traces.length).toBeGreaterThan(0);
    expect(stats.length).toBeGreaterThan(0);
  });
  it.each(stats)('kernel stats %s match stats.schema.json and the side panel reads them', (_name, doc) => {
    expect(validateStats(doc), ajv.errorsText(validateStats.errors)).toBe(true);
    const parsed = parseStats('TORSH_STATS ' + JSON.stringify(doc) + '\n');
    expect('stats' in parsed && parsed.stats.memory?.allocated_bytes).toBe(doc.memory?.allocated_bytes);
  });
  it.each(graphs)('graph %s matches graph.schema.json and is drawable', (_name, doc) => {
    expect(validateGraph(doc), ajv.errorsText(validateGraph.errors)).toBe(true);
    expect(graphProblem(doc)).toBeNull();
  });
  it.each(traces)('trace %s matches trace.schema.json and is drawable', (_name, doc) => {
    expect(validateTrace(doc), ajv.errorsText(validateTrace.errors)).toBe(true);
    expect(traceProblem(doc)).toBeNull();
  });
});

describe('schemas reject what the viewer rejects', () => {
  it('side panel answers without stats', () => {
    expect(parseStats('')).toEqual({ error: 'no answer from the kernel' });
    expect(parseStats('TORSH_STATS {"error": "torsh is not imported in this kernel"}')).toEqual({
      error: 'torsh is not imported in this kernel' });
    expect(parseStats('TORSH_STATS {"version": 2, "memory": {}}')).toEqual({ error: 'unsupported kernel_stats version 2' });
  });
  it('kernel stats while memory counting is off: memory is null, valid and readable', () => {
    const doc = { version: 1, memory: null, dispatch: [], kernels: {} };
    expect(validateStats(doc), ajv.errorsText(validateStats.errors)).toBe(true);
    expect(parseStats('TORSH_STATS ' + JSON.stringify(doc))).toEqual({ stats: doc });
    expect(validateStats({ ...doc, memory: { allocated_bytes: 1 } })).toBe(false);
  });
  it('graph of another version', () => {
    const doc = { version: 2, nodes: [], edges: [], groups: [] };
    expect(validateGraph(doc)).toBe(false);
    expect(graphProblem(doc)).toMatch(/unsupported torsh graph version 2/);
  });
  it('graph node with a field the schema does not describe', () => {
    const node = { id: 'n0', kind: 'leaf', label: 'x', op: null, shape: [2], dtype: 'float32', outputs: [],
      saved_bytes: 0, released: false, sequence_nr: null, module: null, colour: 'red' };
    expect(validateGraph({ version: 1, nodes: [node], edges: [], groups: [] })).toBe(false);
  });
  it('trace without traceEvents, or of another schemaVersion', () => {
    expect(validateTrace({})).toBe(false);
    expect(traceProblem({})).toMatch(/no traceEvents/);
    expect(traceProblem({ traceEvents: [], schemaVersion: 7 })).toMatch(/unsupported trace schemaVersion 7/);
  });
  it('complete event without dur', () => {
    expect(validateTrace({ traceEvents: [{ ph: 'X', name: 'a', pid: 1, tid: 1, ts: 0 }] })).toBe(false);
  });
});
