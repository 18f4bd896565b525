"""Forward-mode AD (torsh.autograd.forward_ad) against torch 2.13's, on the same primals and tangents:
tangents of a broad list of ops, gradcheck(check_forward_ad=True), the dual-level API's semantics and
errors, in-place ops and views of dual tensors, and forward-over-reverse Hessian-vector products."""
import numpy as np
import pytest

import torsh
from torsh._ops import registry
from helpers import assert_close, check_same_error, make_array, needs_torch, torch_ref

pytestmark = needs_torch


def _tensor(lib, arr, requires_grad=False):
    return lib.tensor(np.array(arr, copy=True), requires_grad=requires_grad)


def forward(lib, fn, primals, tangents):
    """[(primal, tangent)] of fn's tensor outputs, computed by ``lib``'s forward AD."""
    fw = lib.autograd.forward_ad
    with fw.dual_level():
        duals = [fw.make_dual(_tensor(lib, p), _tensor(lib, t)) if t is not None else _tensor(lib, p)
                 for p, t in zip(primals, tangents)]
        out = fn(lib, *duals)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [(o.detach().numpy().copy(), _tangent_array(fw, o)) for o in outs if isinstance(o, lib.Tensor)
                and (o.is_floating_point() or o.is_complex())]


def _tangent_array(fw, out):
    tangent = fw.unpack_dual(out).tangent
    return np.zeros(out.shape) if tangent is None else tangent.detach().numpy().copy()


def check_tangents(fn, *shapes, low=-2.0, high=2.0, tangent_for=None, rtol=1e-7, atol=1e-9):
    """fn(lib, *duals)'s values and tangents in torsh and torch agree (float64)."""
    primals = [make_array(s, low=low, high=high, seed=i) for i, s in enumerate(shapes)]
    tangents = [make_array(s, seed=10 + i) if tangent_for is None or i in tangent_for else None
                for i, s in enumerate(shapes)]
    ours, ref = forward(torsh, fn, primals, tangents), forward(torch_ref, fn, primals, tangents)
    assert len(ours) == len(ref)
    for (p, t), (rp, rt) in zip(ours, ref):
        np.testing.assert_allclose(p, rp, rtol=rtol, atol=atol, equal_nan=True)
        np.testing.assert_allclose(t, rt, rtol=rtol, atol=atol, equal_nan=True, err_msg="tangent")


# -- every unary elementwise op of the registry ---------------------------------------------------
def _unary_entries():
    from torsh._ops.transforms.jvp_rules import _unary_node_class
    return [e for e in registry.entries() if _unary_node_class(e) is not None]


_DOMAIN = {"acosh": (1.2, 3.0), "log": (0.1, 2.0), "log2": (0.1, 2.0), "log10": (0.1, 2.0), "sqrt": (0.1, 2.0),
           "rsqrt": (0.1, 2.0), "lgamma": (0.1, 2.0), "digamma": (0.1, 2.0), "special_entr": (0.1, 2.0)}


def _public(lib, entry):
    if entry.namespace == "torsh.special" or entry.name.startswith("special_"):
        return getattr(lib.special, entry.public_name or entry.name.removeprefix("special_"))
    return getattr(lib, entry.public_name or entry.name)


@pytest.mark.parametrize("entry", _unary_entries(), ids=lambda e: e.name)
def test_unary_registry_op_tangent_matches_torch(entry):
    low, high = _DOMAIN.get(entry.name, (-0.9, 0.9))
    check_tangents(lambda lib, x: _public(lib, entry)(x), (3, 4), low=low, high=high)


def test_every_unary_registry_op_has_a_jvp_rule():
    assert _unary_entries(), "no elementwise unary op found in the registry"
    assert all(e.jvp is not None for e in _unary_entries())


# -- binary, reductions, shapes, products ---------------------------------------------------------
BINARY = {
    "add": lambda lib, a, b: a + b, "add_alpha": lambda lib, a, b: lib.add(a, b, alpha=2.5),
    "sub": lambda lib, a, b: a - b, "sub_alpha": lambda lib, a, b: lib.sub(a, b, alpha=0.5),
    "mul": lambda lib, a, b: a * b, "div": lambda lib, a, b: a / (b + 3), "rsub": lambda lib, a, b: 2 - a * b,
    "pow": lambda lib, a, b: (a + 3) ** b, "atan2": lambda lib, a, b: lib.atan2(a, b),
    "maximum": lambda lib, a, b: lib.maximum(a, b), "minimum": lambda lib, a, b: lib.minimum(a, b),
    "hypot": lambda lib, a, b: lib.hypot(a, b), "where": lambda lib, a, b: lib.where(a > 0, a, b),
    "lerp": lambda lib, a, b: lib.lerp(a, b, 0.3), "clamp": lambda lib, a, b: a.clamp(-0.5, 0.5) * b,
    "scalar_ops": lambda lib, a, b: (3 * a - 1) / 2 + 1 / (b + 4),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_tangent_matches_torch(name):
    check_tangents(BINARY[name], (3, 4), (3, 4))
    check_tangents(BINARY[name], (3, 4), (4,))  # broadcasting
    check_tangents(BINARY[name], (3, 4), (3, 4), tangent_for=(1,))  # one input dual


REDUCTIONS = {
    "sum": lambda lib, x: x.sum(), "sum_dim": lambda lib, x: x.sum(1, keepdim=True),
    "mean": lambda lib, x: x.mean(), "mean_dims": lambda lib, x: x.mean((0, 2)),
    "prod": lambda lib, x: x.prod(1), "amax": lambda lib, x: x.amax(-1), "max": lambda lib, x: x.max(1),
    "var": lambda lib, x: x.var(1), "std": lambda lib, x: x.std(), "logsumexp": lambda lib, x: x.logsumexp(2),
    "norm": lambda lib, x: x.norm(), "cumsum": lambda lib, x: x.cumsum(1), "cumprod": lambda lib, x: x.cumprod(2),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_tangent_matches_torch(name):
    check_tangents(REDUCTIONS[name], (2, 3, 4))


SHAPES = {
    "reshape": lambda lib, x: x.reshape(4, 6), "view": lambda lib, x: x.view(-1), "t": lambda lib, x: x[0].t(),
    "transpose": lambda lib, x: x.transpose(0, 2), "permute": lambda lib, x: x.permute(2, 0, 1),
    "expand": lambda lib, x: x[:, :1].expand(2, 5, 4), "squeeze": lambda lib, x: x[:, :1].squeeze(1),
    "unsqueeze": lambda lib, x: x.unsqueeze(1), "select": lambda lib, x: x[1], "slice": lambda lib, x: x[:, 1:, ::2],
    "index": lambda lib, x: x[:, [0, 2]], "flatten": lambda lib, x: x.flatten(1), "flip": lambda lib, x: x.flip(0),
    "cat": lambda lib, x: lib.cat([x, x * 2], 1), "stack": lambda lib, x: lib.stack([x, x.exp()]),
    "split": lambda lib, x: x.split(2, 1), "chunk": lambda lib, x: x.chunk(2, 2),
    "contiguous": lambda lib, x: x.transpose(0, 1).contiguous(), "clone": lambda lib, x: x.clone(),
    "diagonal": lambda lib, x: x.diagonal(0, 1, 2), "repeat": lambda lib, x: x.repeat(2, 1, 1),
    "gather": lambda lib, x: x.gather(2, lib.tensor([[[0, 3], [1, 1], [2, 0]]] * 2)),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_op_tangent_matches_torch(name):
    check_tangents(SHAPES[name], (2, 3, 4))


PRODUCTS = {
    "matmul_2d": ((3, 4), (4, 5), lambda lib, a, b: a @ b),
    "matmul_batched": ((2, 3, 4), (4, 5), lambda lib, a, b: lib.matmul(a, b)),
    "matmul_vec": ((4,), (4, 5), lambda lib, a, b: a @ b),
    "mm": ((3, 4), (4, 5), lambda lib, a, b: lib.mm(a, b)),
    "bmm": ((2, 3, 4), (2, 4, 5), lambda lib, a, b: lib.bmm(a, b)),
    "addmm": ((3, 4), (4, 5), lambda lib, a, b: lib.addmm(b[0], a, b)),
    "dot": ((4,), (4,), lambda lib, a, b: lib.dot(a, b)),
    "mv": ((3, 4), (4,), lambda lib, a, b: lib.mv(a, b)),
    "outer": ((3,), (4,), lambda lib, a, b: lib.outer(a, b)),
    "einsum": ((3, 4), (4, 5), lambda lib, a, b: lib.einsum("ij,jk->ik", a, b)),
}


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_product_tangent_matches_torch(name):
    sa, sb, fn = PRODUCTS[name]
    check_tangents(fn, sa, sb)
    check_tangents(fn, sa, sb, tangent_for=(0,))


# -- nn.functional -----------------------------------------------------------------------------------
NN = {
    "linear": ([(5, 4), (3, 4), (3,)], lambda lib, x, w, b: lib.nn.functional.linear(x, w, b)),
    "conv1d": ([(2, 3, 7), (4, 3, 3), (4,)], lambda lib, x, w, b: lib.nn.functional.conv1d(x, w, b, padding=1)),
    "conv2d": ([(2, 3, 6, 5), (4, 3, 3, 3), (4,)],
               lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, stride=2, padding=1)),
    "layer_norm": ([(3, 5), (5,), (5,)], lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (5,), w, b)),
    "batch_norm": ([(4, 3, 2), (3,), (3,)],
                   lambda lib, x, w, b: lib.nn.functional.batch_norm(x, None, None, w, b, training=True)),
    "softmax": ([(3, 5)], lambda lib, x: lib.nn.functional.softmax(x, 1)),
    "softmax_dim0": ([(3, 5)], lambda lib, x: x.softmax(0)),
    "log_softmax": ([(3, 5)], lambda lib, x: lib.nn.functional.log_softmax(x, -1)),
    "cross_entropy": ([(4, 5)], lambda lib, x: lib.nn.functional.cross_entropy(x, lib.tensor([0, 3, 4, 1]))),
    "mse_loss": ([(4, 5), (4, 5)], lambda lib, x, y: lib.nn.functional.mse_loss(x, y)),
    "embedding": ([(6, 3)], lambda lib, w: lib.nn.functional.embedding(lib.tensor([[0, 2], [5, 2]]), w)),
    "dropout_p0": ([(3, 4)], lambda lib, x: lib.nn.functional.dropout(x, p=0.0)),
    "relu": ([(3, 4)], lambda lib, x: lib.nn.functional.relu(x)),
    "gelu": ([(3, 4)], lambda lib, x: lib.nn.functional.gelu(x)),
    "gelu_tanh": ([(3, 4)], lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh")),
    "tanh": ([(3, 4)], lambda lib, x: lib.tanh(x)), "sigmoid": ([(3, 4)], lambda lib, x: lib.sigmoid(x)),
    "silu": ([(3, 4)], lambda lib, x: lib.nn.functional.silu(x)),
    "leaky_relu": ([(3, 4)], lambda lib, x: lib.nn.functional.leaky_relu(x, 0.1)),
    "mlp": ([(5, 4), (3, 4)], lambda lib, x, w: lib.nn.functional.linear(x, w).tanh().sum(1).softmax(0)),
}


@pytest.mark.parametrize("name", sorted(NN))
def test_nn_functional_tangent_matches_torch(name):
    shapes, fn = NN[name]
    check_tangents(fn, *shapes)


# -- gradcheck(check_forward_ad=True) ----------------------------------------------------------------
GRADCHECKED = ["mul", "div", "pow", "atan2"]


@pytest.mark.parametrize("name", GRADCHECKED)
def test_gradcheck_forward_ad_binary(name):
    a = torsh.tensor(make_array((2, 3), seed=1), requires_grad=True)
    b = torsh.tensor(make_array((2, 3), seed=2, low=0.5), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda x, y: BINARY[name](torsh, x, y), (a, b), check_forward_ad=True)


@pytest.mark.parametrize("name", ["linear", "conv1d", "layer_norm", "log_softmax", "mse_loss", "mlp"])
def test_gradcheck_forward_ad_nn(name):
    shapes, fn = NN[name]
    small = {"conv1d": [(1, 2, 4), (2, 2, 3), (2,)], "linear": [(2, 3), (2, 3), (2,)]}.get(name, shapes)
    inputs = [torsh.tensor(make_array(s, seed=i), requires_grad=True) for i, s in enumerate(small)]
    assert torsh.autograd.gradcheck(lambda *xs: fn(torsh, *xs), inputs, check_forward_ad=True,
                                    check_backward_ad=False)


def test_gradcheck_forward_ad_reports_a_wrong_rule_as_pytorch():
    from torsh.autograd import forward_ad
    from torsh._ops.tensor.elementwise import arithmetic as pointwise
    x = torsh.tensor(make_array((3,), seed=1), requires_grad=True)
    rule = forward_ad.RULES[pointwise.MulBackward0]
    forward_ad.RULES[pointwise.MulBackward0] = lambda node, inputs, tangents, outputs: None
    try:
        with pytest.raises(torsh.autograd.GradcheckError, match="Jacobian computed with forward mode mismatch for "
                           "output 0 with respect to input 0"):
            torsh.autograd.gradcheck(lambda x: x * x, (x,), check_forward_ad=True, check_backward_ad=False)
        assert not torsh.autograd.gradcheck(lambda x: x * x, (x,), check_forward_ad=True, raise_exception=False)
        assert torsh.autograd.gradcheck(lambda x: x * x, (x,))  # reverse mode alone does not look
    finally:
        forward_ad.RULES[pointwise.MulBackward0] = rule


def test_gradgradcheck_forward_over_reverse():
    x = torsh.tensor(make_array((2, 3), seed=1), requires_grad=True)
    w = torsh.tensor(make_array((3, 2), seed=2), requires_grad=True)
    assert torsh.autograd.gradgradcheck(lambda x, w: (x @ w).tanh().pow(2).sum(), (x, w), check_fwd_over_rev=True)


# -- API semantics ---------------------------------------------------------------------------------
def test_public_names_and_signatures():
    import inspect
    ours, ref = torsh.autograd.forward_ad, torch_ref.autograd.forward_ad
    for name in ref.__all__:
        assert hasattr(ours, name)
        if callable(getattr(ref, name)) and not isinstance(getattr(ref, name), type):
            assert inspect.signature(getattr(ours, name)) == inspect.signature(getattr(ref, name)), name
    assert ours.UnpackedDualTensor._fields == ("primal", "tangent")


def test_levels_and_errors_as_pytorch():
    x = make_array((3,))

    def fw(lib):
        return lib.autograd.forward_ad

    check_same_error(lambda lib: fw(lib).make_dual(_tensor(lib, x), _tensor(lib, x)))
    check_same_error(lambda lib: fw(lib).exit_dual_level())
    for lib in (torsh, torch_ref):
        primal, tangent = fw(lib).unpack_dual(_tensor(lib, x))  # outside a level: (tensor, None)
        assert tangent is None
        with fw(lib).dual_level() as level:
            assert level == 0
    for bad in (lambda lib: fw(lib).make_dual(_tensor(lib, x), _tensor(lib, make_array((4,)))),
                lambda lib: fw(lib).make_dual(_tensor(lib, x), _tensor(lib, x), level=3),
                lambda lib: fw(lib).enter_dual_level(),
                lambda lib: fw(lib).make_dual(fw(lib).make_dual(_tensor(lib, x), _tensor(lib, x)), _tensor(lib, x)),
                lambda lib: fw(lib).exit_dual_level(level=2)):
        def inside(lib, bad=bad):
            with fw(lib).dual_level():
                bad(lib)
        check_same_error(inside)
    for args in ((torsh.arange(3), torsh.arange(3)), (torsh.tensor(x), torsh.arange(3))):  # dtype printed as torsh's
        with fw(torsh).dual_level(), pytest.raises(ValueError, match="to be floating point or complex, but got: "
                                                                      "torsh.int64"):
            fw(torsh).make_dual(*args)


def test_dual_tensor_is_an_alias_and_tangents_go_with_the_level():
    fw = torsh.autograd.forward_ad
    x, t = torsh.tensor(make_array((3,))), torsh.tensor(make_array((3,), seed=1))
    with fw.dual_level():
        d = fw.make_dual(x, t)
        assert d._base is x and fw.unpack_dual(x).tangent is None
        primal, tangent = fw.unpack_dual(d)
        assert tangent is t and fw.unpack_dual(primal).tangent is None
        assert type(fw.unpack_dual(d)) is fw.UnpackedDualTensor
        y = d.sin()
    assert fw.unpack_dual(d).tangent is None and fw.unpack_dual(y).tangent is None
    with fw.dual_level():  # a new level does not see the old tangents
        assert fw.unpack_dual(d).tangent is None


def test_no_reverse_graph_without_requires_grad_but_kept_with_it():
    for lib in (torsh, torch_ref):
        fw = lib.autograd.forward_ad
        x, t = _tensor(lib, make_array((3,))), _tensor(lib, make_array((3,), seed=1))
        with fw.dual_level():
            y = (fw.make_dual(x, t) * 2).exp().sum()
            assert not y.requires_grad and y.grad_fn is None
            assert fw.unpack_dual(y).tangent is not None
            xr = x.clone().requires_grad_()
            y = fw.make_dual(xr, t) * xr
            assert y.requires_grad and y.grad_fn.name() == "MulBackward0"
            assert fw.unpack_dual(y).tangent.requires_grad  # the tangent depends on xr
            with lib.no_grad():
                z = fw.make_dual(x, t).exp()
            assert not z.requires_grad and fw.unpack_dual(z).tangent is not None


def _inplace_cases(lib):
    fw = lib.autograd.forward_ad
    x, t = _tensor(lib, make_array((2, 3))), _tensor(lib, make_array((2, 3), seed=1))
    results = []
    with fw.dual_level():
        d = fw.make_dual(x.clone(), t.clone())
        z = lib.zeros(2, 3, dtype=lib.float64)
        z.copy_(d)
        results.append(fw.unpack_dual(z).tangent)
        w = lib.ones(2, 3, dtype=lib.float64)
        w.add_(d, alpha=2)
        w.mul_(d)
        results.append(fw.unpack_dual(w).tangent)
        base = lib.zeros(3, 3, dtype=lib.float64)
        base[1:].copy_(d)  # a view of a plain tensor made dual: the base gets the tangent
        results.append(fw.unpack_dual(base).tangent)
        row = d[0]  # a view of a dual tensor: its tangent is the same view of the tangent
        row.mul_(3)
        results.append(fw.unpack_dual(d).tangent)
        results.append(fw.unpack_dual(row).tangent)
        d.exp_()
        results.append(fw.unpack_dual(d).tangent)
        assert not z.requires_grad and not w.requires_grad and not base.requires_grad
    return [r.numpy().copy() for r in results]


def test_inplace_ops_and_views_update_tangents_as_pytorch():
    for ours, ref in zip(_inplace_cases(torsh), _inplace_cases(torch_ref)):
        np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_view_tangent_is_a_view_of_the_tangent():
    fw = torsh.autograd.forward_ad
    x, t = torsh.tensor(make_array((2, 3))), torsh.tensor(make_array((2, 3), seed=1))
    with fw.dual_level():
        d = fw.make_dual(x, t)
        for view in (d[1], d.t(), d.view(6), d[:, 1:].transpose(0, 1)):
            tangent = fw.unpack_dual(view).tangent
            assert np.shares_memory(tangent._data, t._data)
            assert_close(tangent, view.detach() * 0 + tangent)  # same shape


# -- forward over reverse -----------------------------------------------------------------------------
def _loss(lib, x, w):
    return ((x @ w).tanh() * x.sum(1, keepdim=True)).softmax(-1).log().sum() + (x.exp() / (1 + x * x)).mean()


def test_forward_over_reverse_hvp_matches_torch_func_hvp():
    xs, vs, ws = make_array((3, 4), seed=1), make_array((3, 4), seed=2), make_array((4, 2), seed=3)
    results = []
    for lib in (torsh, torch_ref):
        fw = lib.autograd.forward_ad
        x, v, w = _tensor(lib, xs, requires_grad=True), _tensor(lib, vs), _tensor(lib, ws)
        with fw.dual_level():
            d = fw.make_dual(x, v)
            (g,) = lib.autograd.grad(_loss(lib, d, w), d, create_graph=True)
            results.append(fw.unpack_dual(g).tangent.detach())
    x, v, w = _tensor(torch_ref, xs), _tensor(torch_ref, vs), _tensor(torch_ref, ws)
    expected = torch_ref.func.jvp(torch_ref.func.grad(lambda x: _loss(torch_ref, x, w)), (x,), (v,))[1]
    assert_close(results[0], results[1])
    assert_close(results[0], expected)


def test_autograd_functional_hvp_and_func_jvp_match_torch():
    xs, vs, ws = make_array((3, 4), seed=1), make_array((3, 4), seed=2), make_array((4, 2), seed=3)
    out = {}
    for lib in (torsh, torch_ref):
        x, v, w = _tensor(lib, xs), _tensor(lib, vs), _tensor(lib, ws)
        f = lambda x: _loss(lib, x, w)  # noqa: E731
        out[lib] = (lib.autograd.functional.hvp(f, x, v), lib.autograd.functional.jvp(f, x, v),
                    lib.func.jvp(lambda x: (x @ w).sin(), (x,), (v,)),
                    lib.func.jacfwd(lambda x: (x @ w).sin())(x),
                    lib.func.hessian(f)(x))
    for ours, ref in zip(out[torsh], out[torch_ref]):
        for a, b in zip(ours if isinstance(ours, tuple) else (ours,), ref if isinstance(ref, tuple) else (ref,)):
            assert_close(a, b)
