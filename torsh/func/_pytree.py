"""A small pytree: nested tuples, lists, dicts and namedtuples of leaves, flattened and rebuilt.

vmap's in_dims / out_dims and grad's argnums walk their arguments with it.
"""


class Spec:
    """The structure of a tree: ``kind`` ("leaf", "tuple", "list", "dict", "namedtuple"), keys, children."""

    def __init__(self, kind, children=(), context=None):
        self.kind, self.children, self.context = kind, tuple(children), context

    @property
    def num_leaves(self):
        return 1 if self.kind == "leaf" else sum(c.num_leaves for c in self.children)

    def __eq__(self, other):
        return (isinstance(other, Spec) and self.kind == other.kind and self.context == other.context
                and self.children == other.children)

    def __repr__(self, indent=0):
        """PyTorch's TreeSpec repr (error messages print it): ``TreeSpec(tuple, None, [*,\n  *])``."""
        if self.kind == "leaf":
            return "*"
        context = self.context if self.kind == "namedtuple" else list(self.context) if self.kind == "dict" else None
        children = ""
        if self.children:
            indent += 2
            children = self.children[0].__repr__(indent) + ("," if len(self.children) > 1 else "")
            children += ",".join("\n" + " " * indent + c.__repr__(indent) for c in self.children[1:])
        return f"TreeSpec({self.kind}, {context}, [{children}])"


def _children(tree):
    """(kind, children, context) of a container, or None for a leaf."""
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return "namedtuple", list(tree), type(tree)
    if isinstance(tree, tuple):
        return "tuple", list(tree), None
    if isinstance(tree, list):
        return "list", list(tree), None
    if isinstance(tree, dict):
        return "dict", list(tree.values()), tuple(tree.keys())
    return None


def tree_flatten(tree):
    """(list of leaves, Spec)."""
    node = _children(tree)
    if node is None:
        return [tree], Spec("leaf")
    kind, children, context = node
    leaves, specs = [], []
    for child in children:
        child_leaves, child_spec = tree_flatten(child)
        leaves.extend(child_leaves)
        specs.append(child_spec)
    return leaves, Spec(kind, specs, context)


def tree_unflatten(leaves, spec):
    it = iter(leaves)
    return _build(it, spec)


def _build(it, spec):
    if spec.kind == "leaf":
        return next(it)
    children = [_build(it, c) for c in spec.children]
    if spec.kind == "tuple":
        return tuple(children)
    if spec.kind == "list":
        return children
    if spec.kind == "dict":
        return dict(zip(spec.context, children))
    return spec.context(*children)


def tree_map(fn, tree):
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def broadcast_prefix(prefix, spec):
    """The leaves of ``prefix`` spread over ``spec``: a leaf of the prefix (an int or None) covers a
    whole subtree. None when ``prefix`` is not a prefix of the structure (in_dims / out_dims errors)."""
    node = None if prefix is None else _children(prefix)
    if node is None:
        return [prefix] * spec.num_leaves
    kind, children, context = node
    if spec.kind == "leaf" or kind != spec.kind or len(children) != len(spec.children):
        return None
    if kind == "dict":
        if set(context) != set(spec.context):
            return None
        children = [prefix[k] for k in spec.context]
    out = []
    for child, child_spec in zip(children, spec.children):
        part = broadcast_prefix(child, child_spec)
        if part is None:
            return None
        out.extend(part)
    return out
