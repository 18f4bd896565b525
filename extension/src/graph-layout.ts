// Layered top-down layout of a torsh graph document (docs/schemas/graph.schema.json).
// Pure functions, no DOM: the view draws what this returns, the tests check its geometry.

export const GRAPH_VERSION = 1;

export interface GraphNode {
  id: string;
  kind: 'op' | 'leaf' | 'parameter' | 'output';
  label: string;
  op: string | null;
  shape: number[] | null;
  dtype: string | null;
  saved_bytes: number;
  released: boolean;
  module: string | null;
}
export interface GraphEdge {
  source: string;
  target: string;
  output_nr: number;
  input_nr: number;
}
export interface GraphGroup {
  id: string;
  label: string;
  module: string;
  parent: string | null;
  nodes: string[];
}
export interface GraphDoc {
  version: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  groups: GraphGroup[];
}

/** Why a graph document cannot be drawn, or null when it can. */
export function graphProblem(doc: unknown): string | null {
  const d = doc as GraphDoc;
  if (!d || typeof d !== 'object' || !Array.isArray(d.nodes) || !Array.isArray(d.edges)) {
    return 'not a torsh graph: no nodes/edges arrays';
  }
  if (d.version !== GRAPH_VERSION) {
    return `unsupported torsh graph version ${String(d.version)} (this extension reads version ${GRAPH_VERSION}); ` +
      'update the torsh-jupyterlab extension';
  }
  return null;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface PlacedNode extends Box {
  node: GraphNode;
  layer: number;
}
export interface PlacedGroup extends Box {
  group: GraphGroup;
  depth: number;
}
export interface Layout {
  nodes: Map<string, PlacedNode>;
  groups: PlacedGroup[];
  width: number;
  height: number;
}

export const NODE_WIDTH = 168;
export const NODE_HEIGHT = 40;
const GAP_X = 36;
const GAP_Y = 56;
const GROUP_PAD = 10;
const MARGIN = 24;

/** Layer of each node: longest path from a node without inputs, so every edge points down. */
export function assignLayers(doc: GraphDoc): Map<string, number> {
  const inputs = new Map<string, string[]>(doc.nodes.map(n => [n.id, []]));
  for (const e of doc.edges) {
    inputs.get(e.target)?.push(e.source);
  }
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  // Iterative DFS: graphs of real models are deeper than the JS call stack likes.
  for (const start of doc.nodes) {
    const stack: string[] = [start.id];
    while (stack.length) {
      const id = stack[stack.length - 1];
      if (layer.has(id)) {
        stack.pop();
        continue;
      }
      const pending = (inputs.get(id) ?? []).filter(s => !layer.has(s) && inputs.has(s));
      if (pending.length && !visiting.has(id)) {
        visiting.add(id);
        stack.push(...pending);
        continue;
      }
      const from = (inputs.get(id) ?? []).map(s => layer.get(s) ?? 0);
      layer.set(id, from.length ? Math.max(...from) + 1 : 0);
      stack.pop();
    }
  }
  return layer;
}

/** Place nodes in layers; within a layer keep module members together, then follow their inputs. */
export function layoutGraph(doc: GraphDoc): Layout {
  const layerOf = assignLayers(doc);
  const layers: GraphNode[][] = [];
  for (const n of doc.nodes) {
    const l = layerOf.get(n.id) ?? 0;
    (layers[l] = layers[l] ?? []).push(n);
  }
  const inputs = new Map<string, string[]>();
  for (const e of doc.edges) {
    inputs.set(e.target, [...(inputs.get(e.target) ?? []), e.source]);
  }
  const column = new Map<string, number>();
  const nodes = new Map<string, PlacedNode>();
  let width = 0;
  layers.forEach((members, l) => {
    members = members ?? [];
    // barycenter of the inputs' columns: fewer crossings than discovery order
    const key = (n: GraphNode) => {
      const cols = (inputs.get(n.id) ?? []).map(s => column.get(s)).filter((c): c is number => c !== undefined);
      return cols.length ? cols.reduce((a, b) => a + b, 0) / cols.length : Number.MAX_SAFE_INTEGER;
    };
    const sorted = members
      .map((n, i) => ({ n, i, module: n.module ?? '', bary: key(n) }))
      .sort((a, b) => a.module.localeCompare(b.module) || a.bary - b.bary || a.i - b.i);
    sorted.forEach(({ n }, i) => {
      column.set(n.id, i);
      const x = MARGIN + i * (NODE_WIDTH + GAP_X);
      const y = MARGIN + l * (NODE_HEIGHT + GAP_Y);
      nodes.set(n.id, { node: n, layer: l, x, y, width: NODE_WIDTH, height: NODE_HEIGHT });
      width = Math.max(width, x + NODE_WIDTH + MARGIN);
    });
  });
  const height = MARGIN * 2 + layers.length * (NODE_HEIGHT + GAP_Y) - GAP_Y;
  return { nodes, groups: placeGroups(doc.groups, nodes), width, height: Math.max(height, 0) };
}

/** A module group is the bounding box of its nodes; enclosing modules get a wider margin. */
function placeGroups(groups: GraphGroup[], nodes: Map<string, PlacedNode>): PlacedGroup[] {
  const depthOf = new Map<string, number>();
  for (const g of groups) {
    // groups come parents first (schema), so the parent's depth is known
    depthOf.set(g.id, g.parent ? (depthOf.get(g.parent) ?? 0) + 1 : 0);
  }
  const maxDepth = Math.max(0, ...depthOf.values());
  const placed: PlacedGroup[] = [];
  for (const g of groups) {
    const members = g.nodes.map(id => nodes.get(id)).filter((p): p is PlacedNode => !!p);
    if (!members.length) {
      continue;
    }
    const depth = depthOf.get(g.id) ?? 0;
    const pad = GROUP_PAD * (1 + maxDepth - depth);
    const x0 = Math.min(...members.map(m => m.x)) - pad;
    const y0 = Math.min(...members.map(m => m.y)) - pad - 12;
    const x1 = Math.max(...members.map(m => m.x + m.width)) + pad;
    const y1 = Math.max(...members.map(m => m.y + m.height)) + pad;
    placed.push({ group: g, depth, x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  }
  return placed;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** Second line of a node: shape, dtype and saved bytes, as far as known. */
export function nodeDetail(n: GraphNode): string {
  const parts: string[] = [];
  if (n.shape) {
    parts.push(`[${n.shape.join(', ')}]`);
  }
  if (n.dtype) {
    parts.push(n.dtype);
  }
  if (n.saved_bytes > 0) {
    parts.push(`saved ${formatBytes(n.saved_bytes)}`);
  } else if (n.released) {
    parts.push('released');
  }
  return parts.join(' ');
}
