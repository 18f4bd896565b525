"""torsh.utils._pytree against torch.utils._pytree: leaves, structures (their repr), maps, registered nodes."""
import collections

import pytest

import torsh
import torsh.utils._pytree as tp
from helpers import needs_torch, torch_ref

pytestmark = needs_torch
if torch_ref is not None:
    import torch.utils._pytree as rp

Point = collections.namedtuple("Point", "x y")

TREES = [
    1, None, (), [], {}, (1, 2), [1, (2, None, [3])], {"b": 1, "a": (2, [3, 4])},
    collections.OrderedDict(z=1, a=[2]), collections.defaultdict(list, k=(1, 2)),
    collections.deque([1, (2, 3)], maxlen=4), Point(1, (2, 3)), [Point([1], {"q": 2}), ()], "s", 2.5,
]


@pytest.mark.parametrize("tree", TREES, ids=repr)
def test_flatten_leaves_and_spec_repr(tree):
    leaves, spec = tp.tree_flatten(tree)
    ref_leaves, ref_spec = rp.tree_flatten(tree)
    assert leaves == ref_leaves
    assert repr(spec) == repr(ref_spec)
    assert (spec.num_leaves, spec.num_nodes, spec.num_children) == (ref_spec.num_leaves, ref_spec.num_nodes,
                                                                    ref_spec.num_children)
    rebuilt = tp.tree_unflatten(leaves, spec)
    assert rebuilt == rp.tree_unflatten(ref_leaves, ref_spec) and type(rebuilt) is type(tree)
    if isinstance(tree, collections.defaultdict):
        assert rebuilt.default_factory is tree.default_factory


@pytest.mark.parametrize("tree", TREES, ids=repr)
def test_leaves_structure_iter_is_leaf(tree):
    assert tp.tree_leaves(tree) == rp.tree_leaves(tree)
    assert list(tp.tree_iter(tree)) == list(rp.tree_iter(tree))
    assert repr(tp.tree_structure(tree)) == repr(rp.tree_structure(tree))
    assert tp.tree_is_leaf(tree) == rp.tree_is_leaf(tree)
    assert tp.tree_structure(tree).is_leaf() == rp.tree_structure(tree).is_leaf()


def test_spec_equality_and_leafspec():
    assert tp.tree_structure((1, [2])) == tp.tree_structure((5, [6]))
    assert tp.tree_structure((1, [2])) != tp.tree_structure((1, (2,)))
    assert tp.tree_structure({"a": 1}) != tp.tree_structure({"b": 1})
    assert tp.tree_structure(7) == tp.LeafSpec() and isinstance(tp.LeafSpec(), tp.TreeSpec)
    assert repr(tp.LeafSpec()) == repr(rp.LeafSpec())
    assert tp.tree_structure((1, 2)).unflatten([5, 6]) == rp.tree_structure((1, 2)).unflatten([5, 6])


def test_is_leaf_argument():
    tree = [1, [2], (3, [4])]
    def pred(x):
        return isinstance(x, list) and len(x) == 1
    leaves, spec = tp.tree_flatten(tree, is_leaf=pred)
    ref_leaves, ref_spec = rp.tree_flatten(tree, is_leaf=pred)
    assert leaves == ref_leaves and repr(spec) == repr(ref_spec)


def test_maps():
    tree = [1, 2.0, (3, "s"), {"k": 4}]
    assert tp.tree_map(lambda x: x * 2, tree) == rp.tree_map(lambda x: x * 2, tree)
    assert tp.tree_map(lambda a, b: a + b, [1, (2,)], [3, (4,)]) == rp.tree_map(lambda a, b: a + b, [1, (2,)], [3, (4,)])
    # a rest may hold a subtree where the first tree has a leaf
    assert tp.tree_map(lambda a, b: (a, b), [1, 2], [3, [4]]) == rp.tree_map(lambda a, b: (a, b), [1, 2], [3, [4]])
    for types in (int, (int, float), lambda x: isinstance(x, str)):
        assert tp.tree_map_only(types, lambda x: x * 3, tree) == rp.tree_map_only(types, lambda x: x * 3, tree)
    seen, ref_seen = [], []
    assert tp.tree_map_(seen.append, tree) is tree
    rp.tree_map_(ref_seen.append, tree)
    assert seen == ref_seen
    seen.clear(), ref_seen.clear()
    tp.tree_map_only_(int, seen.append, tree)
    rp.tree_map_only_(int, ref_seen.append, tree)
    assert seen == ref_seen


def test_map_structure_mismatch_errors():
    for args in (([1, 2], [1]), ([1, 2], (1, 2)), ({"a": 1}, {"b": 1}), ([1, 2], 5)):
        with pytest.raises(ValueError) as ref:
            rp.tree_map(lambda a, b: a, *args)
        with pytest.raises(ValueError) as got:
            tp.tree_map(lambda a, b: a, *args)
        assert str(got.value) == str(ref.value)


def test_map_over_dicts_with_keys_in_another_order():
    first, second = {"a": 1, "b": 2}, {"b": 20, "a": 10}
    assert tp.tree_map(lambda x, y: x + y, first, second) == rp.tree_map(lambda x, y: x + y, first, second)


def test_unflatten_wrong_leaf_count_error():
    with pytest.raises(ValueError) as ref:
        rp.tree_unflatten([1], rp.tree_structure((1, 2)))
    with pytest.raises(ValueError) as got:
        tp.tree_unflatten([1], tp.tree_structure((1, 2)))
    assert str(got.value) == str(ref.value)


def test_predicates():
    tree = [1, (2.5, -3), {"a": 4}]
    for pred in (lambda x: x > 0, lambda x: x != 0):
        assert tp.tree_all(pred, tree) == rp.tree_all(pred, tree)
        assert tp.tree_any(pred, tree) == rp.tree_any(pred, tree)
        for types in (int, float, (int, float)):
            assert tp.tree_all_only(types, pred, tree) == rp.tree_all_only(types, pred, tree)
            assert tp.tree_any_only(types, lambda x: x < 0, tree) == rp.tree_any_only(types, lambda x: x < 0, tree)


def test_is_namedtuple():
    for obj in (Point(1, 2), Point, (1, 2), tuple, [1]):
        assert tp.is_namedtuple(obj) == rp.is_namedtuple(obj)


def test_flatten_with_path_and_keystr():
    tree = {"a": [1, Point(2, (3,))], "b": collections.deque([4])}
    pairs, spec = tp.tree_flatten_with_path(tree)
    ref_pairs, ref_spec = rp.tree_flatten_with_path(tree)
    assert [tp.keystr(p) for p, _ in pairs] == [rp.keystr(p) for p, _ in ref_pairs]
    assert [leaf for _, leaf in pairs] == [leaf for _, leaf in ref_pairs]
    assert repr(spec) == repr(ref_spec)


class _Pair:
    def __init__(self, first, second):
        self.first, self.second = first, second


def _register(module, cls):
    module.register_pytree_node(cls, lambda p: ([p.first, p.second], None), lambda v, c: cls(*v),
                                serialized_type_name=f"tests.{cls.__name__}")


def test_register_pytree_node():
    ours, theirs = type("PairA", (_Pair,), {}), type("PairA", (_Pair,), {})
    _register(tp, ours)
    _register(rp, theirs)
    leaves, spec = tp.tree_flatten([ours(1, (2, 3))])
    ref_leaves, ref_spec = rp.tree_flatten([theirs(1, (2, 3))])
    assert leaves == ref_leaves and repr(spec) == repr(ref_spec)
    rebuilt = tp.tree_unflatten([7, 8, 9], spec)[0]
    assert type(rebuilt) is ours and (rebuilt.first, rebuilt.second) == (7, (8, 9))
    with pytest.raises(ValueError) as ref:
        _register(rp, theirs)
    with pytest.raises(ValueError) as got:
        _register(tp, ours)
    assert str(got.value).replace("tests.test_pytree", "") == str(ref.value).replace("tests.test_pytree", "")


def test_vmap_and_grad_over_a_registered_type():
    cls = type("PairB", (_Pair,), {})
    _register(tp, cls)
    ref_cls = type("PairB", (_Pair,), {})
    _register(rp, ref_cls)
    x = [[1.0, 2.0], [3.0, 4.0]]
    out = torsh.func.vmap(lambda p: p.first * p.second)(cls(torsh.tensor(x), torsh.tensor(x)))
    ref = torch_ref.func.vmap(lambda p: p.first * p.second)(ref_cls(torch_ref.tensor(x), torch_ref.tensor(x)))
    assert out.tolist() == ref.tolist()
    g = torsh.func.grad(lambda p: (p.first * p.second).sum())(cls(torsh.tensor(x), torsh.tensor(2.0)))
    ref_g = torch_ref.func.grad(lambda p: (p.first * p.second).sum())(ref_cls(torch_ref.tensor(x), torch_ref.tensor(2.0)))
    assert type(g) is cls
    assert g.first.tolist() == ref_g.first.tolist() and g.second.item() == ref_g.second.item()


def test_importable_as_torch_utils_pytree():
    assert torsh.utils._pytree is tp
    from torsh.func import _vmap
    assert _vmap.tree_flatten is tp.tree_flatten


def test_size_and_return_types_are_nodes_of_their_own_type():
    ours = [torsh.Size([2, 3]), torsh.max(torsh.tensor([[1.0, 5.0], [3.0, 2.0]]), 0)]
    theirs = [torch_ref.Size([2, 3]), torch_ref.max(torch_ref.tensor([[1.0, 5.0], [3.0, 2.0]]), 0)]
    for got, ref in zip(ours, theirs):
        leaves, spec = tp.tree_flatten(got)
        ref_leaves, ref_spec = rp.tree_flatten(ref)
        assert repr(spec) == repr(ref_spec)
        assert [getattr(x, "tolist", lambda: x)() for x in leaves] == [getattr(x, "tolist", lambda: x)() for x in ref_leaves]
        rebuilt = tp.tree_unflatten(leaves, spec)
        assert type(rebuilt) is type(got) and tuple(rebuilt) == tuple(got)
        assert [tp.keystr(k) for k, _ in tp.tree_flatten_with_path(got)[0]] == [
            rp.keystr(k) for k, _ in rp.tree_flatten_with_path(ref)[0]]
        assert tp.is_namedtuple(got) == rp.is_namedtuple(ref)
