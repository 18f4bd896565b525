"""Top-down layered layout of a graph document (docs/schemas/graph.schema.json), in plain Python.

No graphviz: longest-path layering over the forward edges (producers above consumers),
sources pulled down next to their first consumer, then a few barycentre sweeps to order each
layer so edges cross less. ``collapse_view`` first folds module groups into one box each,
which is how large graphs stay readable.
"""
from collections import defaultdict

AUTO_COLLAPSE_NODES = 60  # more visible nodes than this: fold module groups (finest level that fits)


def collapse_view(doc, collapsed):
    """(nodes, edges) of ``doc`` with every group id in ``collapsed`` folded into one box node.

    A folded box has ``kind: "group"``, the group's id and label, and ``members`` (its node ids).
    A node belongs to the outermost folded group that holds it; edges inside a box disappear,
    edges crossing its border attach to the box (duplicates merged).
    """
    groups = {g["id"]: g for g in doc["groups"]}
    collapsed = [gid for gid in collapsed if gid in groups]
    owner = {}  # node id -> id of the outermost folded group holding it
    for gid in sorted(collapsed, key=lambda gid: groups[gid]["module"].count(".")):
        for node_id in groups[gid]["nodes"]:
            owner.setdefault(node_id, gid)
    nodes, boxes = [], {}
    for node in doc["nodes"]:
        gid = owner.get(node["id"])
        if gid is None:
            nodes.append(node)
        elif gid not in boxes:
            group = groups[gid]
            boxes[gid] = {"id": gid, "kind": "group", "label": group["label"], "module": group["module"],
                          "type": group["type"], "members": []}
            nodes.append(boxes[gid])
        if gid is not None:
            boxes[gid]["members"].append(node["id"])
    edges, seen = [], set()
    for edge in doc["edges"]:
        source, target = owner.get(edge["source"], edge["source"]), owner.get(edge["target"], edge["target"])
        if source == target or (source, target) in seen:
            continue
        seen.add((source, target))
        edges.append(dict(edge, source=source, target=target))
    return nodes, edges


def auto_collapse(doc, limit=AUTO_COLLAPSE_NODES):
    """Group ids to fold so at most ``limit`` nodes show: the deepest module level that fits.

    Folding level by level, deepest first, keeps as much detail as fits; repeated blocks
    (``layers.0``, ``layers.1``, ...) end up as one box each. Returns [] when nothing needs folding.
    """
    if len(doc["nodes"]) <= limit or not doc["groups"]:
        return []
    depth = lambda g: g["module"].count(".")  # noqa: E731
    chosen = []
    # every enclosing path has its own group, so folding one level hides all deeper ones
    for level in range(max(depth(g) for g in doc["groups"]), -1, -1):
        chosen = [g["id"] for g in doc["groups"] if depth(g) == level]
        if len(collapse_view(doc, chosen)[0]) <= limit:
            break
    return chosen


def layered_layout(nodes, edges, sweeps=4):
    """{node id: (x, y)}: y = -layer (top-down), x = position in the layer, layers centred on 0."""
    ids = [n["id"] for n in nodes]
    preds, succs = defaultdict(list), defaultdict(list)
    for e in edges:
        preds[e["target"]].append(e["source"])
        succs[e["source"]].append(e["target"])
    order = _topological(ids, preds, succs)
    layer = {}
    for node_id in order:  # longest path from the sources
        layer[node_id] = max((layer.get(p, -1) + 1 for p in preds[node_id]), default=0)
    for node_id in reversed(order):  # a source (parameter, input) sits right above its first consumer
        if not preds[node_id] and succs[node_id]:
            layer[node_id] = max(0, min(layer[s] for s in succs[node_id]) - 1)
    layers = defaultdict(list)
    for node_id in order:
        layers[layer[node_id]].append(node_id)
    rows = [layers[i] for i in sorted(layers)]
    position = {node_id: i for row in rows for i, node_id in enumerate(row)}
    for sweep in range(sweeps):  # barycentre ordering, alternating downwards and upwards
        downwards = sweep % 2 == 0
        for row in (rows[1:] if downwards else reversed(rows[:-1])):
            neighbours = preds if downwards else succs
            keys = {}
            for node_id in row:
                around = [position[n] for n in neighbours[node_id]]
                keys[node_id] = sum(around) / len(around) if around else position[node_id]
            row.sort(key=lambda n: keys[n])
            for i, node_id in enumerate(row):
                position[node_id] = i
    coords = {}
    for depth, row in enumerate(rows):
        offset = (len(row) - 1) / 2.0
        for i, node_id in enumerate(row):
            coords[node_id] = (i - offset, -float(depth))
    return coords


def spread_by_labels(coords, widths, gap=2.0):
    """{node id: (x, y)} with each layer's nodes placed side by side by their drawn width.

    ``coords`` as ``layered_layout`` returns them (x = slot in the layer), ``widths`` the width
    of each node with its label, in x units. A node starts where the previous one in its layer
    ended plus ``gap``, so labels drawn to the right of their marker never run into the next
    node; each layer stays centred on 0.
    """
    layers = defaultdict(list)
    for node_id, (x, y) in coords.items():
        layers[y].append((x, node_id))
    spread = {}
    for y, row in layers.items():
        row.sort()
        total = sum(widths[node_id] for _, node_id in row) + gap * (len(row) - 1)
        x = -total / 2.0
        for _, node_id in row:
            spread[node_id] = (x, y)
            x += widths[node_id] + gap
    return spread


def _topological(ids, preds, succs):
    """Kahn order (the graph is a DAG by construction); nodes left on a cycle are appended."""
    indegree = {i: len(preds[i]) for i in ids}
    ready = [i for i in ids if indegree[i] == 0]
    order = []
    while ready:
        node_id = ready.pop()
        order.append(node_id)
        for s in succs[node_id]:
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    if len(order) < len(ids):
        placed = set(order)
        order += [i for i in ids if i not in placed]
    return order
