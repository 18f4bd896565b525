// Layout of a torsh graph document (docs/schemas/graph.schema.json) by ELK (elkjs): module groups
// are compound nodes, so a group box holds exactly its module's nodes and boxes never overlap;
// edges are routed orthogonally around the nodes. Repeated identical sibling modules (layers.0 ..
// layers.11 of one type) fold into one "Block x 12" box until expanded. No DOM: the view draws
// what this returns, the tests check its geometry.

import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';

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
  type?: string | null;
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
/** A run of identical sibling modules shown as one box. */
export interface Fold {
  id: string;
  label: string; // "Linear x 12"
  detail: string; // "layers.0 .. layers.11, 3 nodes each"
  groups: GraphGroup[];
  members: string[]; // node ids of all the folded modules
}
export interface PlacedNode extends Box {
  node: GraphNode | null; // null for a fold box
  fold: Fold | null;
  id: string;
}
export interface PlacedGroup extends Box {
  group: GraphGroup;
  depth: number;
  label: Box & { text: string }; // the caption, clipped to fit inside the box
}
export interface PlacedEdge {
  source: string; // visible ids (a fold box id when an end is folded)
  target: string;
  points: Array<[number, number]>; // absolute, first at the source, last at the target
}
export interface Layout {
  nodes: Map<string, PlacedNode>;
  groups: PlacedGroup[];
  edges: PlacedEdge[];
  folds: Fold[]; // folded now
  width: number;
  height: number;
}

export const NODE_WIDTH = 168;
export const NODE_HEIGHT = 40;
export const LABEL_HEIGHT = 14;
const CHAR_WIDTH = 6; // 10px UI font, generous average
const GROUP_PAD = 10;
const MARGIN = 24;

/** Folds of repeated blocks: two or more numbered siblings in a row (layers.3, layers.4, ...) of one type
 * whose nodes are the same ops, as nn.ModuleList / nn.Sequential blocks are. */
export function findRepeats(doc: GraphDoc): Fold[] {
  const byNode = new Map(doc.nodes.map(n => [n.id, n]));
  const signature = (g: GraphGroup) => `${g.parent ?? ''}|${g.type ?? ''}|` +
    g.nodes.map(id => byNode.get(id)).map(n => (n ? `${n.kind}:${n.op ?? ''}` : '?')).sort().join(',');
  const index = (g: GraphGroup) => {
    const last = g.module.slice(g.module.lastIndexOf('.') + 1);
    return /^\d+$/.test(last) ? Number(last) : NaN;
  };
  const numbered = doc.groups.filter(g => g.nodes.length && !Number.isNaN(index(g)))
    .sort((a, b) => (a.parent ?? '').localeCompare(b.parent ?? '') || index(a) - index(b));
  const folds: Fold[] = [];
  let run: GraphGroup[] = [];
  const close = () => {
    if (run.length >= 2) {
      folds.push(foldOf(run));
    }
    run = [];
  };
  for (const g of numbered) {
    const last = run[run.length - 1];
    if (last && !(last.parent === g.parent && index(g) === index(last) + 1 && signature(g) === signature(last))) {
      close();
    }
    run.push(g);
  }
  close();
  return folds;
}

function foldOf(groups: GraphGroup[]): Fold {
  const first = groups[0];
  const name = first.type || first.module;
  return {
    id: `fold:${first.id}`,
    label: `${name} x ${groups.length}`,
    detail: `${first.module} .. ${groups[groups.length - 1].module}, ${first.nodes.length} nodes each`,
    groups,
    members: groups.flatMap(g => g.nodes)
  };
}

/** The folds still closed: outer ones first; a fold inside a closed fold is hidden with it. */
function activeFolds(doc: GraphDoc, expanded: Set<string>): Fold[] {
  const depth = (f: Fold) => f.groups[0].module.split('.').length;
  const active: Fold[] = [];
  const hidden = new Set<string>();
  for (const f of findRepeats(doc).sort((a, b) => depth(a) - depth(b))) {
    if (expanded.has(f.id) || f.members.some(id => hidden.has(id))) {
      continue;
    }
    active.push(f);
    f.members.forEach(id => hidden.add(id));
  }
  return active;
}

/** Caption text clipped to a width in pixels. */
export function clipToWidth(text: string, width: number): string {
  const max = Math.max(1, Math.floor(width / CHAR_WIDTH));
  return text.length > max ? text.slice(0, Math.max(max - 1, 1)) + '…' : text;
}

const ROOT_OPTIONS: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN', // edges across module boxes are laid out with them
  'elk.layered.spacing.nodeNodeBetweenLayers': '36',
  'elk.spacing.nodeNode': '24',
  'elk.spacing.edgeNode': '14',
  'elk.layered.spacing.edgeNodeBetweenLayers': '14',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.padding': `[top=${MARGIN},left=${MARGIN},bottom=${MARGIN},right=${MARGIN}]`
};
const GROUP_OPTIONS: Record<string, string> = {
  'elk.padding': `[top=${GROUP_PAD + LABEL_HEIGHT + 4},left=${GROUP_PAD},bottom=${GROUP_PAD},right=${GROUP_PAD}]`
};

/** Lay out ``doc`` with every repeated block folded except those whose fold id is in ``expanded``. */
export async function layoutGraph(doc: GraphDoc, expanded: Set<string> = new Set()): Promise<Layout> {
  const folds = activeFolds(doc, expanded);
  const shownAs = new Map<string, string>(); // node id -> fold id
  const foldedGroups = new Set<string>();
  for (const f of folds) {
    f.members.forEach(id => shownAs.set(id, f.id));
    f.groups.forEach(g => foldedGroups.add(g.id));
  }
  // groups left visible: not folded and not inside a folded group
  const groupById = new Map(doc.groups.map(g => [g.id, g]));
  const insideFold = (g: GraphGroup): boolean => {
    for (let p: GraphGroup | undefined = g; p; p = p.parent ? groupById.get(p.parent) : undefined) {
      if (foldedGroups.has(p.id)) {
        return true;
      }
    }
    return false;
  };
  const groups = doc.groups.filter(g => !insideFold(g));
  const elkOf = new Map<string, ElkNode>();
  const root: ElkNode = { id: '__root', layoutOptions: ROOT_OPTIONS, children: [], edges: [] };
  for (const g of groups) { // parents come first (schema)
    const box: ElkNode = { id: g.id, layoutOptions: GROUP_OPTIONS, children: [] };
    elkOf.set(g.id, box);
    (elkOf.get(g.parent ?? '') ?? root).children!.push(box);
  }
  // innermost visible group of each node: the deepest group listing it
  const container = new Map<string, string>();
  for (const g of groups) {
    for (const id of g.nodes) {
      const now = container.get(id);
      if (!now || groupById.get(now)!.module.length < g.module.length) {
        container.set(id, g.id);
      }
    }
  }
  const leaf = (id: string, parentGroup: string | undefined) =>
    (elkOf.get(parentGroup ?? '') ?? root).children!.push({ id, width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const n of doc.nodes) {
    if (!shownAs.has(n.id)) {
      leaf(n.id, container.get(n.id));
    }
  }
  for (const f of folds) {
    leaf(f.id, f.groups[0].parent ?? undefined);
  }
  const seen = new Set<string>();
  const edges: ElkExtendedEdge[] = [];
  for (const e of doc.edges) {
    const source = shownAs.get(e.source) ?? e.source;
    const target = shownAs.get(e.target) ?? e.target;
    const key = `${source}->${target}`;
    if (source !== target && !seen.has(key)) {
      seen.add(key);
      edges.push({ id: `e${edges.length}`, sources: [source], targets: [target] });
    }
  }
  root.edges = edges;
  const done = await new ELK().layout(root);
  return placed(doc, done, folds, groups);
}

/** Absolute boxes from ELK's nested result (children are relative to their parent, edges to their container). */
function placed(doc: GraphDoc, done: ElkNode, folds: Fold[], groups: GraphGroup[]): Layout {
  const byNode = new Map(doc.nodes.map(n => [n.id, n]));
  const byFold = new Map(folds.map(f => [f.id, f]));
  const byGroup = new Map(groups.map(g => [g.id, g]));
  const origin = new Map<string, [number, number]>([[done.id, [0, 0]]]);
  const nodes = new Map<string, PlacedNode>();
  const placedGroups: PlacedGroup[] = [];
  const visit = (parent: ElkNode, ox: number, oy: number, depth: number) => {
    for (const child of parent.children ?? []) {
      const x = ox + (child.x ?? 0);
      const y = oy + (child.y ?? 0);
      const box = { x, y, width: child.width ?? 0, height: child.height ?? 0 };
      const group = byGroup.get(child.id);
      if (group) {
        origin.set(child.id, [x, y]);
        const text = clipToWidth(group.label, box.width - 2 * GROUP_PAD);
        placedGroups.push({ group, depth, ...box,
          label: { text, x: x + GROUP_PAD, y: y + 4, width: text.length * CHAR_WIDTH, height: LABEL_HEIGHT } });
        visit(child, x, y, depth + 1);
      } else {
        nodes.set(child.id, { id: child.id, node: byNode.get(child.id) ?? null, fold: byFold.get(child.id) ?? null, ...box });
      }
    }
  };
  visit(done, 0, 0, 0);
  const edges: PlacedEdge[] = [];
  for (const e of (done.edges ?? []) as Array<ElkExtendedEdge & { container?: string }>) {
    const [ox, oy] = origin.get(e.container ?? done.id) ?? [0, 0];
    for (const s of e.sections ?? []) {
      const points: Array<[number, number]> = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint]
        .map(p => [ox + p.x, oy + p.y]);
      edges.push({ source: e.sources[0], target: e.targets[0], points });
    }
  }
  return { nodes, groups: placedGroups, edges, folds, width: done.width ?? 0, height: done.height ?? 0 };
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
