"""``torch.utils._pytree``: nested containers of leaves, flattened to a list and rebuilt from a ``TreeSpec``.

Containers as PyTorch's: tuple, list, dict (insertion order), OrderedDict, defaultdict, deque, namedtuple, and
any type given to ``register_pytree_node``. Everything else (None included) is a leaf. torch.func's vmap,
grad and jacrev walk their arguments with it (``broadcast_prefix`` spreads in_dims / out_dims over a tree).
"""
import collections
import dataclasses

from .. import return_types
from .._tensor import Size


# -- the node registry ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class NodeDef:
    type: type
    flatten_fn: object  # node -> (children, context)
    unflatten_fn: object  # (children, context) -> node
    flatten_with_keys_fn: object = None  # node -> ([(key, child)], context)


SUPPORTED_NODES = {}
SERIALIZED_TYPE_TO_PYTHON_TYPE = {}


def register_pytree_node(cls, flatten_fn, unflatten_fn, *, serialized_type_name=None, to_dumpable_context=None,
                         from_dumpable_context=None, flatten_with_keys_fn=None):
    """Make ``cls`` a container: ``flatten_fn(node) -> (children, context)``, ``unflatten_fn(children, context)``."""
    if cls in SUPPORTED_NODES:
        raise ValueError(f"{cls} is already registered as pytree node.")
    SUPPORTED_NODES[cls] = NodeDef(cls, flatten_fn, unflatten_fn, flatten_with_keys_fn)
    if serialized_type_name is not None:
        SERIALIZED_TYPE_TO_PYTHON_TYPE[serialized_type_name] = cls


# -- key entries (tree_flatten_with_path) ------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SequenceKey:
    idx: int

    def __str__(self):
        return f"[{self.idx!r}]"

    def get(self, sequence):
        return sequence[self.idx]


@dataclasses.dataclass(frozen=True)
class MappingKey:
    key: object

    def __str__(self):
        return f"[{self.key!r}]"

    def get(self, mapping):
        return mapping[self.key]


@dataclasses.dataclass(frozen=True)
class GetAttrKey:
    name: str

    def __str__(self):
        return f".{self.name}"

    def get(self, obj):
        return getattr(obj, self.name)


def keystr(kp):
    """``"['a'][1].x"`` for a key path."""
    return "".join(str(k) for k in kp)


def _sequence_keys(node):
    return [(SequenceKey(i), v) for i, v in enumerate(node)], None


def _register_builtins():
    register_pytree_node(tuple, lambda t: (list(t), None), lambda v, c: tuple(v), flatten_with_keys_fn=_sequence_keys)
    register_pytree_node(list, lambda t: (list(t), None), lambda v, c: list(v), flatten_with_keys_fn=_sequence_keys)
    register_pytree_node(dict, lambda d: (list(d.values()), list(d.keys())), lambda v, c: dict(zip(c, v)),
                         flatten_with_keys_fn=lambda d: ([(MappingKey(k), v) for k, v in d.items()], list(d)))
    register_pytree_node(collections.OrderedDict, lambda d: (list(d.values()), list(d.keys())),
                         lambda v, c: collections.OrderedDict(zip(c, v)),
                         flatten_with_keys_fn=lambda d: ([(MappingKey(k), v) for k, v in d.items()], list(d)))
    register_pytree_node(collections.defaultdict,
                         lambda d: (list(d.values()), [d.default_factory, list(d.keys())]),
                         lambda v, c: collections.defaultdict(c[0], zip(c[1], v)),
                         flatten_with_keys_fn=lambda d: ([(MappingKey(k), v) for k, v in d.items()],
                                                         [d.default_factory, list(d)]))
    register_pytree_node(collections.deque, lambda d: (list(d), d.maxlen),
                         lambda v, c: collections.deque(v, maxlen=c), flatten_with_keys_fn=lambda d: (
                             [(SequenceKey(i), v) for i, v in enumerate(d)], d.maxlen))


def _register_torsh_tuples():
    """torsh.Size and the return_types (PyTorch's structseqs): nodes of their own type, as PyTorch registers them
    (not namedtuples there, though torsh builds the return types on namedtuple)."""
    register_pytree_node(Size, lambda s: (list(s), None), lambda v, c: Size(v), flatten_with_keys_fn=_sequence_keys)
    for value in vars(return_types).values():
        if isinstance(value, type) and issubclass(value, tuple) and hasattr(value, "n_fields"):
            register_pytree_node(value, lambda t: (list(t), None), lambda v, c, cls=value: cls(*v),
                                 flatten_with_keys_fn=_sequence_keys)


_register_builtins()
_register_torsh_tuples()
_NAMEDTUPLE = NodeDef(collections.namedtuple, lambda t: (list(t), type(t)), lambda v, c: c(*v),
                      lambda t: ([(GetAttrKey(f), getattr(t, f)) for f in t._fields], type(t)))


def is_namedtuple(obj):
    """True for a namedtuple instance or class (a tuple subclass with ``_fields``; not a return type, which
    PyTorch makes a structseq)."""
    cls = obj if isinstance(obj, type) else type(obj)
    return (issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple)
            and not hasattr(cls, "n_fields"))


def _node_def(tree):
    """The NodeDef flattening ``tree``, or None for a leaf."""
    return _NAMEDTUPLE if is_namedtuple(tree) else SUPPORTED_NODES.get(type(tree))


def _node_type(tree):
    return collections.namedtuple if is_namedtuple(tree) else type(tree)


def tree_is_leaf(tree, is_leaf=None):
    return (is_leaf is not None and is_leaf(tree)) or _node_def(tree) is None


# -- TreeSpec ---------------------------------------------------------------------------------------
class TreeSpec:
    """The structure of a tree: its node ``type`` (``namedtuple`` for every namedtuple), ``context`` (dict keys,
    the namedtuple class, deque's maxlen, ...) and one spec per child."""

    def __init__(self, type, context, children_specs):
        self.type, self.context, self.children_specs = type, context, list(children_specs)
        self.num_nodes = 1 + sum(c.num_nodes for c in self.children_specs)
        self.num_leaves = sum(c.num_leaves for c in self.children_specs)
        self.num_children = len(self.children_specs)

    def is_leaf(self):
        return False

    def children(self):
        return list(self.children_specs)

    def child(self, index):
        return self.children_specs[index]

    def __eq__(self, other):
        return (isinstance(other, TreeSpec) and self.is_leaf() == other.is_leaf() and self.type == other.type
                and self.context == other.context and self.children_specs == other.children_specs)

    def __hash__(self):
        return hash((self.type, self.num_nodes, self.num_leaves))

    def __repr__(self, indent=0):
        """PyTorch's: ``TreeSpec(tuple, None, [*,\\n  *])`` (error messages print it)."""
        name = "namedtuple" if self.type is collections.namedtuple else self.type.__name__
        children = ""
        if self.children_specs:
            indent += 2
            children = self.children_specs[0].__repr__(indent) + ("," if self.num_children > 1 else "")
            children += ",".join("\n" + " " * indent + c.__repr__(indent) for c in self.children_specs[1:])
        return f"TreeSpec({name}, {self.context}, [{children}])"

    def flatten_up_to(self, tree):
        """The subtrees of ``tree`` at this spec's leaves (ValueError when the structures differ)."""
        if self.is_leaf():
            return [tree]
        if _node_type(tree) is not self.type:
            raise ValueError(f"Node type mismatch; expected {self.type!r}, but got {type(tree)!r}.")
        children, context = _node_def(tree).flatten_fn(tree)
        if len(children) != self.num_children:
            raise ValueError(f"Node arity mismatch; expected {self.num_children}, but got {len(children)}.")
        if isinstance(tree, dict):  # a mapping's keys may come in another order
            children = self._values_by_key(tree)
        elif context != self.context and self.type is not collections.namedtuple:
            raise ValueError(f"Node context mismatch for custom node type {self.type!r}.")
        out = []
        for child, spec in zip(children, self.children_specs):
            out.extend(spec.flatten_up_to(child))
        return out

    def _values_by_key(self, mapping):
        keys = self.context[1] if self.type is collections.defaultdict else self.context
        if set(keys) != set(mapping):
            raise ValueError(f"Node keys mismatch; missing key(s): {set(keys) - set(mapping)}; "
                             f"extra key(s): {set(mapping) - set(keys)}.")
        return [mapping[k] for k in keys]

    def unflatten(self, leaves):
        return tree_unflatten(leaves, self)


class LeafSpec(TreeSpec):
    def __init__(self):
        super().__init__(None, None, [])
        self.num_nodes, self.num_leaves = 1, 1

    def is_leaf(self):
        return True

    def __repr__(self, indent=0):
        return "*"


_LEAF = LeafSpec()


# -- flatten / unflatten ----------------------------------------------------------------------------
def tree_flatten(tree, is_leaf=None):
    """(list of leaves, TreeSpec)."""
    leaves = []
    return leaves, _flatten(tree, is_leaf, leaves)


def _flatten(tree, is_leaf, leaves):
    if tree_is_leaf(tree, is_leaf):
        leaves.append(tree)
        return _LEAF
    children, context = _node_def(tree).flatten_fn(tree)
    return TreeSpec(_node_type(tree), context, [_flatten(c, is_leaf, leaves) for c in children])


def tree_unflatten(leaves, treespec):
    if not isinstance(treespec, TreeSpec):
        raise TypeError(f"tree_unflatten(leaves, treespec): Expected `treespec` to be instance of TreeSpec "
                        f"but got item of type {type(treespec)}.")
    leaves = list(leaves)
    if len(leaves) != treespec.num_leaves:
        raise ValueError(f"treespec.unflatten(leaves): `leaves` has length {len(leaves)} but the spec refers to a "
                         f"pytree that holds {treespec.num_leaves} items ({treespec}).")
    return _build(iter(leaves), treespec)


def _build(it, spec):
    if spec.is_leaf():
        return next(it)
    children = [_build(it, c) for c in spec.children_specs]
    node_def = _NAMEDTUPLE if spec.type is collections.namedtuple else SUPPORTED_NODES[spec.type]
    return node_def.unflatten_fn(children, spec.context)


def tree_leaves(tree, is_leaf=None):
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf=None):
    return tree_flatten(tree, is_leaf)[1]


def tree_iter(tree, is_leaf=None):
    yield from tree_leaves(tree, is_leaf)


def tree_flatten_with_path(tree, is_leaf=None):
    """([(key path, leaf)], TreeSpec); every node type needs a ``flatten_with_keys_fn``."""
    pairs = []
    _with_path(tree, is_leaf, (), pairs)
    return pairs, tree_structure(tree, is_leaf)


def _with_path(tree, is_leaf, path, pairs):
    if tree_is_leaf(tree, is_leaf):
        pairs.append((path, tree))
        return
    node_def = _node_def(tree)
    if node_def.flatten_with_keys_fn is None:
        raise ValueError(f"Did not find a flatten_with_keys_fn for type: {type(tree)}. Please pass a "
                         "flatten_with_keys_fn argument to register_pytree_node.")
    for key, child in node_def.flatten_with_keys_fn(tree)[0]:
        _with_path(child, is_leaf, path + (key,), pairs)


def tree_leaves_with_path(tree, is_leaf=None):
    return tree_flatten_with_path(tree, is_leaf)[0]


# -- maps and predicates ----------------------------------------------------------------------------
def tree_map(func, tree, *rests, is_leaf=None):
    """``func`` over the leaves of ``tree`` (and the matching subtrees of ``rests``), in the same structure."""
    leaves, treespec = tree_flatten(tree, is_leaf)
    columns = [leaves] + [treespec.flatten_up_to(r) for r in rests]
    return treespec.unflatten(func(*xs) for xs in zip(*columns))


def tree_map_(func, tree, *rests, is_leaf=None):
    """``func`` over the leaves for its side effects; returns ``tree``."""
    leaves, treespec = tree_flatten(tree, is_leaf)
    columns = [leaves] + [treespec.flatten_up_to(r) for r in rests]
    for xs in zip(*columns):
        func(*xs)
    return tree


def _type_pred(type_or_types_or_pred):
    if isinstance(type_or_types_or_pred, (type, tuple)) or type(type_or_types_or_pred).__name__ == "UnionType":
        return lambda x: isinstance(x, type_or_types_or_pred)
    if callable(type_or_types_or_pred):
        return type_or_types_or_pred
    raise TypeError("Argument must be a type, a tuple of types, or a callable.")


def _only(type_or_types_or_pred, func):
    """``func`` applied to the leaves the types (or predicate) select; other leaves pass through."""
    pred = _type_pred(type_or_types_or_pred)
    return lambda x: func(x) if pred(x) else x


def tree_map_only(type_or_types_or_pred, /, func, tree, is_leaf=None):
    return tree_map(_only(type_or_types_or_pred, func), tree, is_leaf=is_leaf)


def tree_map_only_(type_or_types_or_pred, /, func, tree, is_leaf=None):
    return tree_map_(_only(type_or_types_or_pred, func), tree, is_leaf=is_leaf)


def tree_all(pred, tree, is_leaf=None):
    return all(pred(x) for x in tree_iter(tree, is_leaf))


def tree_any(pred, tree, is_leaf=None):
    return any(pred(x) for x in tree_iter(tree, is_leaf))


def tree_all_only(type_or_types, /, pred, tree, is_leaf=None):
    selected = _type_pred(type_or_types)
    return all(pred(x) for x in tree_iter(tree, is_leaf) if selected(x))


def tree_any_only(type_or_types, /, pred, tree, is_leaf=None):
    selected = _type_pred(type_or_types)
    return any(pred(x) for x in tree_iter(tree, is_leaf) if selected(x))


# -- torsh's own: prefix trees (vmap's in_dims / out_dims) --------------------------------------------
def broadcast_prefix(prefix, spec):
    """The leaves of ``prefix`` spread over ``spec``: a leaf of the prefix (an int or None) covers a whole
    subtree. None when ``prefix`` is not a prefix of the structure (in_dims / out_dims errors)."""
    if tree_is_leaf(prefix):
        return [prefix] * spec.num_leaves
    if spec.is_leaf() or _node_type(prefix) is not spec.type:
        return None
    children, context = _node_def(prefix).flatten_fn(prefix)
    if len(children) != spec.num_children:
        return None
    if isinstance(prefix, dict):  # in_dims may list a dict's keys in another order
        if set(context) != set(spec.context):
            return None
        children = [prefix[k] for k in spec.context]
    out = []
    for child, child_spec in zip(children, spec.children_specs):
        part = broadcast_prefix(child, child_spec)
        if part is None:
            return None
        out.extend(part)
    return out
