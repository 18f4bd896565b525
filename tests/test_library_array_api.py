"""nn and optim reach a tensor's array only through ``torsh._array_api`` (or the public API), never ``._data``
(issue 19); the writes made through it count as in-place writes as PyTorch's in-place ops do; and the shared helpers
that replaced repeated code (cells' state preparation, kaiming's std, distributions' expand, bounded constraints,
transforms' cache, the registries of bijections) behave as PyTorch."""
import ast
import pathlib
import warnings

import pytest

import torsh

from helpers import assert_close, check_same_error, needs_torch, torch_ref

ROOT = pathlib.Path(torsh.__file__).parent


def test_nn_and_optim_do_not_touch_tensor_data():
    found = []
    for package in ("nn", "optim"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Attribute) and node.attr == "_data":
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == [], "use torsh._array_api (array, write, set_array, ...) or the public API"


def _version_bumps(lib):
    """How many in-place writes clip_grad_norm_, zero_grad(set_to_none=False) and two initialisers count."""
    layer = lib.nn.Linear(3, 2)
    layer(lib.ones(1, 3)).sum().backward()
    grad = layer.weight.grad
    before = grad._version
    lib.nn.utils.clip_grad_norm_(layer.parameters(), 0.01)
    clipped = grad._version - before
    before = grad._version
    lib.optim.SGD(layer.parameters(), lr=0.1).zero_grad(set_to_none=False)
    zeroed = grad._version - before
    w = lib.empty(3, 3)
    before = w._version
    lib.nn.init.kaiming_uniform_(w)
    lib.nn.init.eye_(w)
    return clipped, zeroed, w._version - before


@needs_torch
def test_writes_through_the_array_api_count_as_in_place_writes():
    assert _version_bumps(torsh) == _version_bumps(torch_ref) == (1, 1, 2)


@needs_torch
@pytest.mark.parametrize("init", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_of_a_zero_element_tensor_warns_at_the_caller(init):
    def warned(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = getattr(lib.nn.init, init)(lib.empty(0, 3))
        assert tuple(out.shape) == (0, 3)
        return [(str(w.message), pathlib.Path(w.filename).name) for w in caught]

    assert warned(torsh) == warned(torch_ref) == [("Initializing zero-element tensors is a no-op",
                                                   "test_library_array_api.py")]


@needs_torch
@pytest.mark.parametrize("hx_shapes", [((1, 2, 4), (2, 4)), ((2, 4), (1, 2, 4))])
def test_lstm_cell_checks_each_state_dimension(hx_shapes):
    check_same_error(lambda lib: lib.nn.LSTMCell(3, 4)(lib.ones(2, 3), tuple(lib.ones(*s) for s in hx_shapes)))


@needs_torch
@pytest.mark.parametrize("cell", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cells_add_and_remove_the_batch_dimension(cell):
    def run(lib):
        lib.manual_seed(0)
        module = getattr(lib.nn, cell)(3, 4)
        for p in module.parameters():
            lib.nn.init.constant_(p, 0.1)
        x = lib.arange(3.0) / 3
        out = module(x)
        return out if isinstance(out, tuple) else (out,)

    for ours, theirs in zip(run(torsh), run(torch_ref)):
        assert_close(ours, theirs)


def _expanded(lib, name, args, shape):
    dist = getattr(lib.distributions, name)(*args).expand(shape)
    return tuple(dist.batch_shape), tuple(dist.event_shape), type(dist).__name__


EXPANDS = [
    ("LogNormal", lambda lib: (lib.zeros(2), lib.ones(2))),
    ("Gumbel", lambda lib: (lib.zeros(2), lib.ones(2))),
    ("Pareto", lambda lib: (lib.ones(2), lib.ones(2) * 2)),
    ("Kumaraswamy", lambda lib: (lib.ones(2), lib.ones(2) * 2)),
    ("HalfNormal", lambda lib: (lib.ones(2),)),
    ("InverseGamma", lambda lib: (lib.ones(2), lib.ones(2))),
    ("Binomial", lambda lib: (lib.ones(2) * 5, lib.ones(2) * 0.3)),
    ("NegativeBinomial", lambda lib: (lib.ones(2) * 5, lib.ones(2) * 0.3)),
    ("Bernoulli", lambda lib: (lib.ones(2) * 0.3,)),
    ("Geometric", lambda lib: (lib.ones(2) * 0.3,)),
    ("ContinuousBernoulli", lambda lib: (lib.ones(2) * 0.3,)),
    ("RelaxedBernoulli", lambda lib: (lib.tensor(0.5), lib.ones(2) * 0.3)),
    ("Multinomial", lambda lib: (5, lib.ones(2, 3) / 3)),
    ("OneHotCategorical", lambda lib: (lib.ones(2, 3) / 3,)),
    ("RelaxedOneHotCategorical", lambda lib: (lib.tensor(0.5), lib.ones(2, 3) / 3)),
]


@needs_torch
@pytest.mark.parametrize("name, args", EXPANDS, ids=[e[0] for e in EXPANDS])
def test_expand_gives_pytorchs_shapes_and_samples_of_them(name, args):
    assert _expanded(torsh, name, args(torsh), (3, 2)) == _expanded(torch_ref, name, args(torch_ref), (3, 2))
    expanded = getattr(torsh.distributions, name)(*args(torsh)).expand((3, 2))
    assert tuple(expanded.sample().shape) == tuple(expanded.batch_shape) + tuple(expanded.event_shape)


@needs_torch
def test_a_subclass_with_its_own_init_must_define_expand():
    def expand_subclass(lib):
        class Shifted(lib.distributions.LogNormal):
            def __init__(self, loc):
                super().__init__(loc, lib.ones_like(loc))
        return Shifted(lib.zeros(2)).expand((3, 2))

    check_same_error(expand_subclass)


@needs_torch
def test_bounded_constraints_repr_and_check_as_pytorch():
    def described(lib):
        c = lib.distributions.constraints
        made = [c.greater_than(1.5), c.greater_than_eq(0.0), c.less_than(2.0), c.interval(0.0, 1.0),
                c.half_open_interval(0.0, 1.0), c.integer_interval(0, 3), c.positive, c.nonnegative_integer]
        x = lib.tensor([-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
        return [(repr(con), con.check(x).tolist(), con.is_discrete) for con in made]

    assert described(torsh) == described(torch_ref)


@needs_torch
def test_transform_cache_answers_both_ways_as_pytorch():
    def cached(lib):
        t = lib.distributions.transforms.ExpTransform(cache_size=1)
        x = lib.tensor([0.5, 1.0])
        y = t(x)
        inverse_hits_cache = t.inv(y) is x
        y2 = lib.tensor([2.0])
        x2 = t.inv(y2)
        return inverse_hits_cache, t(x2) is y2, t(x) is y

    assert cached(torsh) == cached(torch_ref) == (True, True, False)


@needs_torch
def test_biject_to_and_transform_to_give_pytorchs_transforms():
    def transforms(lib):
        c = lib.distributions.constraints
        registry = lib.distributions.constraint_registry
        made = [c.real, c.positive, c.nonnegative, c.greater_than(2.0), c.greater_than_eq(1.0), c.less_than(3.0),
                c.interval(0.0, 1.0), c.interval(-1.0, 2.0), c.half_open_interval(0.0, 2.0), c.corr_cholesky]
        x = lib.tensor([-0.3, 0.7])
        described = []
        for con in made:
            for lookup in (registry.biject_to, registry.transform_to):
                t = lookup(con)
                value = t(x[:1].reshape(1)) if con is not c.corr_cholesky else None
                described.append((type(t).__name__, None if value is None else [round(v, 5) for v in value.tolist()]))
        return described

    assert transforms(torsh) == transforms(torch_ref)


@needs_torch
@pytest.mark.parametrize("target", ["0.weight", "0.missing", "1", "0.running_mean", "1.running_mean"])
@pytest.mark.parametrize("getter", ["get_parameter", "get_buffer"])
def test_get_parameter_and_get_buffer_errors_as_pytorch(getter, target):
    def get(lib):
        model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2))
        return tuple(getattr(model, getter)(target).shape)

    try:
        expected = get(torch_ref)
    except AttributeError:
        check_same_error(get)
    else:
        assert get(torsh) == expected


@needs_torch
@pytest.mark.parametrize("fn", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropouts_drop_whole_features_or_elements_as_pytorch(fn):
    def dropped(lib):
        out = getattr(lib.nn.functional, fn)(lib.ones(4, 6, 5, 5), 0.5, training=True)
        # feature alpha dropout: each (sample, channel) map is constant (all kept or all dropped)
        per_map_constant = bool((out.amax((-2, -1)) == out.amin((-2, -1))).all())
        untouched = getattr(lib.nn.functional, fn)(lib.ones(3), 0.5, training=False)
        return per_map_constant, untouched.tolist()

    assert dropped(torsh) == dropped(torch_ref)
    check_same_error(lambda lib: getattr(lib.nn.functional, fn)(lib.ones(3), 1.5, training=True))


@needs_torch
@pytest.mark.parametrize("switch, query", [("set_multithreading_enabled", "is_multithreading_enabled")])
def test_thread_flag_switches_restore_as_pytorch(switch, query):
    def states(lib):
        ag = lib.autograd
        seen = [getattr(ag, query)()]
        with getattr(ag, switch)(False):
            seen.append(getattr(ag, query)())
        seen.append(getattr(ag, query)())
        getattr(ag, switch)(False)
        seen.append(getattr(ag, query)())
        getattr(ag, switch)(True)
        return seen

    assert states(torsh) == states(torch_ref) == [True, False, True, False]
