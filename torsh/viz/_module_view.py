"""module_view(prof): time and memory per nn.Module as a collapsible tree (``<details>``).

    with torsh.profiler.profile(with_modules=True, profile_memory=True) as prof:
        loss_fn(model(x), y).backward()
    torsh.viz.module_view(prof, model)

The numbers come from ``torsh.profiler._module_tree`` (forward and backward, self and total, memory by phase
and category, the checkpoint suggestion). The output carries a static frame (``text/html``: the
tree, which needs no kernel) beside a widget (the same tree, re-sorted by a dropdown). Imports
ipywidgets, so torsh.viz loads this module only when ``module_view`` is first used.
"""
import html

import ipywidgets as widgets

from ._live import human_bytes
from ..profiler._module_tree import MEMORY_CELLS, checkpoint_text, module_tree
from ._static import widget_bundle

# (key, label): how the children of each node are ordered
ORDERS = (("calls", "call order"), ("forward", "forward time"), ("backward", "backward time"),
          ("memory", "forward memory"))
_SORT_KEYS = {"calls": None, "forward": lambda n: -n.forward_us, "backward": lambda n: -n.backward_us,
              "memory": lambda n: -n.total("forward_allocated_self")}
_TIME_COLUMNS = ("fwd self", "fwd total", "bwd self", "bwd total")
_MEMORY_COLUMNS = ("fwd alloc", "kept for bwd", "bwd alloc", "params", "checkpoint saves")
# every row is the same grid, its first column the fold marker (summaries hide the browser's own)
_ROW = "display:grid;grid-template-columns:{};column-gap:8px;font-size:12px;list-style:none"


def module_view(prof, model=None, sort="calls", optimizer=None):
    """The ModuleView of a finished ``torsh.profiler.profile(with_modules=True)``; ``model`` adds
    each module's own parameter bytes (``optimizer``: their optimizer state); ``sort``: one of
    "calls", "forward", "backward", "memory"."""
    return ModuleView(module_tree(prof, model, optimizer), sort=sort)


def module_memory(prof, model=None, optimizer=None, total=False):
    """The ModuleMemoryView of a finished ``profile(with_modules=True, profile_memory=True)``: one
    step's bytes per module by phase and category, and the blocks worth recomputing with
    torsh.utils.checkpoint; ``total``: a module's bytes with its children's."""
    tree = module_tree(prof, model, optimizer)
    if not tree.profile_memory:
        raise RuntimeError("torsh.viz.module_memory: the profile recorded no memory events; "
                           "profile with torsh.profiler.profile(with_modules=True, profile_memory=True)")
    return ModuleMemoryView(tree, total=total)


class ModuleView(widgets.VBox):
    """VBox(header with the sort dropdown, the tree as HTML). ``tree`` is the ModuleTree."""

    def __init__(self, tree, sort="calls"):
        if sort not in _SORT_KEYS:
            raise ValueError(f"module_view: sort must be one of {', '.join(_SORT_KEYS)}, not {sort!r}")
        self.tree = tree
        self.order = widgets.Dropdown(options=[(label, key) for key, label in ORDERS], value=sort,
                                      description="order by")
        self.body = widgets.HTML(tree_html(tree, sort))
        self.order.observe(lambda change: setattr(self.body, "value", tree_html(self.tree, change["new"])),
                           names="value")
        super().__init__([self.order, self.body])

    def _repr_mimebundle_(self, **kwargs):
        return widget_bundle(super(), {"text/html": self.body.value, "text/plain": tree_text(self.tree)}, **kwargs)


def _columns(tree):
    names = ["module", "calls", *_TIME_COLUMNS]
    return names + list(_MEMORY_COLUMNS) if tree.profile_memory else names


def _values(node, tree):
    times = [f"{node.forward_self_us:,.0f}", f"{node.forward_us:,.0f}",
             f"{node.backward_self_us:,.0f}", f"{node.backward_us:,.0f}"]
    if not tree.profile_memory:
        return [str(node.calls), *times]
    sizes = [node.total("forward_allocated_self"), node.total("activations_self"),
             node.total("backward_allocated_self"), node.total("parameters_self"), node.checkpoint_saving]
    return [str(node.calls), *times, *(human_bytes(b) if b else "-" for b in sizes)]


def _children(node, sort):
    key = _SORT_KEYS[sort]
    return node.children if key is None else sorted(node.children, key=key)


def tree_html(tree, sort="calls"):
    """The tree as nested ``<details>`` (open down to the second level), one grid row per module."""
    columns = _columns(tree)
    grid = _ROW.format("12px minmax(200px,2fr) " + " ".join(["minmax(70px,1fr)"] * (len(columns) - 1)))
    head = "<span></span>" + "".join(f"<span style='font-weight:bold'>{html.escape(c)}</span>" for c in columns)
    parts = ["<div class='torsh-module-view'>",
             "<div style='font-size:12px;color:#555'>times in microseconds; self = outside child modules; "
             "backward = the backward nodes each module's forward created</div>",
             f"<div style='{grid}'>{head}</div>"]
    for node in _children(tree.root, sort):
        parts.append(_node_html(node, tree, sort, grid))
    if tree.root.backward_self_us:
        cells = ["<span></span>", "<span>(outside modules)</span>", "<span></span>", "<span></span>", "<span></span>",
                 f"<span>{tree.root.backward_self_us:,.0f}</span>"]
        parts.append(f"<div class='torsh-module-root' style='{grid}'>{''.join(cells)}</div>")
    suggestion = tree.suggestion() if tree.profile_memory else None
    if suggestion:
        parts.append(f"<div class='torsh-module-suggestion' style='margin-top:6px;font-size:12px'>"
                     f"<b>suggestion:</b> {html.escape(suggestion)}</div>")
    if tree.profile_memory and tree.optimizer_allocated:
        parts.append(f"<div style='font-size:12px'>optimizer steps: allocated {human_bytes(tree.optimizer_allocated)}, "
                     f"state kept {human_bytes(tree.optimizer_state)}</div>")
    parts.append("</div>")
    return "".join(parts)


def _node_html(node, tree, sort, grid):
    name = (f"<span style='padding-left:{(node.depth - 1) * 14}px' title='{html.escape(node.type)}'>"
            f"{html.escape(node.label)}</span>")
    cells = name + "".join(f"<span>{html.escape(v)}</span>" for v in _values(node, tree))
    attrs = f"class='torsh-module' data-module='{html.escape(node.name)}' data-path='{html.escape(node.path)}'"
    if not node.children:
        return f"<div {attrs} style='{grid}'><span></span>{cells}</div>"
    inner = "".join(_node_html(child, tree, sort, grid) for child in _children(node, sort))
    opened = " open" if node.depth <= 2 else ""
    marker = "<span style='cursor:pointer' title='fold / unfold'>&#9656;</span>"
    return f"<details {attrs}{opened}><summary style='{grid};cursor:pointer'>{marker}{cells}</summary>{inner}</details>"


def tree_text(tree):
    """The tree as an indented text table (``text/plain``)."""
    columns = _columns(tree)
    rows = [[("  " * (n.depth - 1)) + n.label, *_values(n, tree)] for n in tree.nodes()]
    if tree.root.backward_self_us:
        rows.append(["(outside modules)", "", "", "", f"{tree.root.backward_self_us:,.0f}", ""]
                    + [""] * (len(columns) - 6))
    widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
    lines = ["torsh.viz.ModuleView (times in us)",
             "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(columns, widths)))]
    lines += ["  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
              for r in rows]
    suggestion = tree.suggestion() if tree.profile_memory else None
    if suggestion:
        lines.append(suggestion)
    return "\n".join(lines)


# -- memory by module x phase x category -----------------------------------------------------------
CATEGORY_COLORS = {"activations": "#e45756", "temporaries": "#bab0ac", "gradients": "#f58518",
                   "parameters": "#4c78a8", "optimizer_state": "#54a24b"}
# "forward activations", ...; the resident and optimizer cells are named by their category alone
_CELL_LABELS = {cell: (f"{cell[0]} " if cell[0] in ("forward", "backward") else "") + cell[1].replace("_", " ")
                for cell in MEMORY_CELLS}


class ModuleMemoryView(widgets.VBox):
    """VBox(a toggle between own bytes and bytes with children, the table as HTML)."""

    def __init__(self, tree, total=False):
        self.tree = tree
        self.scope = widgets.ToggleButtons(options=[("own", False), ("with children", True)], value=total,
                                           description="bytes")
        self.body = widgets.HTML(memory_html(tree, total))
        self.scope.observe(lambda change: setattr(self.body, "value", memory_html(self.tree, change["new"])),
                           names="value")
        super().__init__([self.scope, self.body])

    def rows(self, total=None):
        """[(node, {(phase, category): bytes})] in call order (``total``: the toggle's value by default)."""
        return memory_rows(self.tree, self.scope.value if total is None else total)

    def _repr_mimebundle_(self, **kwargs):
        return widget_bundle(super(), {"text/html": self.body.value,
                                       "text/plain": memory_text(self.tree, self.scope.value)}, **kwargs)


def memory_rows(tree, total=False):
    return [(node, node.memory(total=total)) for node in tree.nodes()]


def _bar(cells, widest):
    """A stacked bar of one row's bytes by category (the widest row fills 160 px)."""
    by_category = {}
    for (_, category), nbytes in cells.items():
        by_category[category] = by_category.get(category, 0) + nbytes
    parts = [f"<span title='{html.escape(c.replace('_', ' '))} {human_bytes(b)}' style='display:inline-block;"
             f"height:10px;width:{160 * b / widest:.1f}px;background:{CATEGORY_COLORS[c]}'></span>"
             for c, b in by_category.items() if b]
    return f"<span style='white-space:nowrap'>{''.join(parts)}</span>"


def memory_html(tree, total=False):
    """One grid row per module: its bytes in each (phase, category) cell, a stacked bar, the
    checkpoint saving; then the checkpoint advice."""
    rows = memory_rows(tree, total)
    widest = max([sum(cells.values()) for _, cells in rows] + [1])
    columns = ["module", *_CELL_LABELS.values(), "by category", "checkpoint saves"]
    grid = _ROW.format("minmax(200px,2fr) " + " ".join(["minmax(70px,1fr)"] * len(MEMORY_CELLS)) + " 170px 90px")
    head = "".join(f"<span style='font-weight:bold'>{html.escape(c)}</span>" for c in columns)
    legend = " ".join(f"<span style='color:{color}'>&#9632;</span> {name.replace('_', ' ')}"
                      for name, color in CATEGORY_COLORS.items())
    parts = ["<div class='torsh-module-memory'>",
             f"<div style='font-size:12px;color:#555'>one step's bytes per module ({'with' if total else 'without'} "
             f"its children); activations = kept for backward. {legend}</div>",
             f"<div style='{grid}'>{head}</div>"]
    for node, cells in rows:
        name = (f"<span style='padding-left:{(node.depth - 1) * 14}px' title='{html.escape(node.type)}'>"
                f"{html.escape(node.label)}</span>")
        values = "".join(f"<span>{_size(cells[cell])}</span>" for cell in MEMORY_CELLS)
        parts.append(f"<div class='torsh-memory-row' data-path='{html.escape(node.path)}' style='{grid}'>{name}"
                     f"{values}{_bar(cells, widest)}<span>{_size(node.checkpoint_saving)}</span></div>")
    for node in tree.checkpoint_advice():
        parts.append(f"<div class='torsh-checkpoint-advice' style='margin-top:6px;font-size:12px'>"
                     f"<b>suggestion:</b> {html.escape(checkpoint_text(node))}</div>")
    parts.append("</div>")
    return "".join(parts)


def _size(nbytes):
    return human_bytes(nbytes) if nbytes else "-"


def memory_text(tree, total=False):
    """The table as text (``text/plain``)."""
    rows = [[("  " * (n.depth - 1)) + n.label, *(_size(cells[c]) for c in MEMORY_CELLS), _size(n.checkpoint_saving)]
            for n, cells in memory_rows(tree, total)]
    columns = ["module", *_CELL_LABELS.values(), "checkpoint saves"]
    widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns))]
    lines = [f"torsh.viz.ModuleMemoryView (one step, {'with children' if total else 'own bytes'})"]
    lines += ["  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
              for r in [columns, *rows]]
    lines += [checkpoint_text(node) for node in tree.checkpoint_advice()]
    return "\n".join(lines)
