"""autograd.Function under forward mode and vmap against torch 2.13: the jvp staticmethod (ctx.save_for_forward,
zeros for inputs without a tangent, None for non-tensors), PyTorch's errors when jvp is missing or wrong, and
under vmap the vmap staticmethod, generate_vmap_rule=True and their errors."""
import pytest

import torsh
from helpers import assert_close, check_same_error, make_array, needs_torch, torch_ref

pytestmark = needs_torch


def _t(lib, shape, seed):
    return lib.tensor(make_array(shape, "float64", seed=seed))


def _functions(lib):
    """Custom Functions written once against ``lib`` (the same source runs in torsh and in torch)."""
    class MulScale(lib.autograd.Function):
        """x * y * k and x.exp(): jvp reads what forward saved for it."""
        @staticmethod
        def forward(ctx, x, y, k):
            ctx.save_for_forward(x, y)
            ctx.save_for_backward(x, y)
            ctx.k = k
            return x * y * k, x.exp()

        @staticmethod
        def backward(ctx, g1, g2):
            x, y = ctx.saved_tensors
            return g1 * y * ctx.k + g2 * x.exp(), g1 * x * ctx.k, None

        @staticmethod
        def jvp(ctx, tx, ty, tk):
            x, y = ctx.saved_tensors
            assert tk is None
            return (tx * y + x * ty) * ctx.k, tx * x.exp()

    class Cube(lib.autograd.Function):
        """setup_context style, with a vmap staticmethod."""
        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.save_for_forward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            return 3 * g * ctx.saved_tensors[0] ** 2

        @staticmethod
        def jvp(ctx, t):
            return 3 * t * ctx.saved_tensors[0] ** 2

        @staticmethod
        def vmap(info, in_dims, x):
            return Cube.apply(x), in_dims[0]

    class NoJvp(lib.autograd.Function):
        @staticmethod
        def forward(x):
            return x * 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class RowDot(lib.autograd.Function):
        """A reduction, batched by generate_vmap_rule."""
        generate_vmap_rule = True

        @staticmethod
        def forward(x, w):
            return (x * w).sum(-1)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return g.unsqueeze(-1) * w, g.unsqueeze(-1) * x

    return MulScale, Cube, NoJvp, RowDot


def _dual_outputs(lib, fn, primals, tangents):
    fw = lib.autograd.forward_ad
    with fw.dual_level():
        duals = [p if t is None else fw.make_dual(p, t) for p, t in zip(primals, tangents)]
        outs = fn(*duals)
        outs = outs if isinstance(outs, tuple) else (outs,)
        return [tuple(fw.unpack_dual(o)) for o in outs]


def _close(ours, ref):
    for (op, ot), (rp, rt) in zip(ours, ref):
        assert_close(op, rp)
        assert (ot is None) == (rt is None)
        if rt is not None:
            assert_close(ot, rt)


@pytest.mark.parametrize("tangent_of_y", [True, False])
def test_jvp_staticmethod_gives_the_tangents(tangent_of_y):
    def run(lib):
        mul_scale = _functions(lib)[0]
        return _dual_outputs(lib, lambda x, y: mul_scale.apply(x, y, 2.5), [_t(lib, (3,), 0), _t(lib, (3,), 1)],
                             [_t(lib, (3,), 2), _t(lib, (3,), 3) if tangent_of_y else None])
    _close(run(torsh), run(torch_ref))


def test_func_jvp_jacfwd_and_reverse_over_forward_through_a_function():
    def run(lib):
        cube = _functions(lib)[1]
        x = _t(lib, (3,), 0).requires_grad_()
        out, tangent = lib.func.jvp(cube.apply, (x,), (_t(lib, (3,), 1),))
        grad_of_tangent = lib.autograd.grad(tangent.sum(), x)[0]
        return out, tangent, grad_of_tangent, lib.func.jacfwd(cube.apply)(_t(lib, (3,), 2))
    for o, r in zip(run(torsh), run(torch_ref)):
        assert_close(o, r)


def test_missing_jvp_raises_pytorch_error():
    def run(lib):
        no_jvp = _functions(lib)[2]
        return _dual_outputs(lib, no_jvp.apply, [_t(lib, (3,), 0)], [_t(lib, (3,), 1)])
    check_same_error(run)


class _WrongJvp:
    @staticmethod
    def count(lib):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g

            @staticmethod
            def jvp(ctx, t):
                return t, t
        return F

    @staticmethod
    def size(lib):
        class F(_WrongJvp.count(lib)):
            @staticmethod
            def jvp(ctx, t):
                return t[:1]
        return F


@pytest.mark.parametrize("kind", ["count", "size"])
def test_wrong_jvp_results_raise_pytorch_errors(kind):
    check_same_error(lambda lib: _dual_outputs(lib, getattr(_WrongJvp, kind)(lib).apply, [_t(lib, (3,), 0)],
                                               [_t(lib, (3,), 1)]))


@pytest.mark.parametrize("in_dims", [0, 1])
def test_vmap_staticmethod_and_generated_rule(in_dims):
    def run(lib):
        _, cube, _, row_dot = _functions(lib)
        x, w = _t(lib, (3, 4), 0), _t(lib, (4,), 1)
        grads = lib.func.vmap(lib.func.grad(lambda xi, w: row_dot.apply(xi, w) ** 2, argnums=1),
                              in_dims=(0, None))(x, w)
        return (lib.func.vmap(cube.apply, in_dims=in_dims)(x), lib.func.vmap(row_dot.apply, in_dims=(0, None))(x, w),
                grads, lib.func.vmap(lib.func.grad(lambda xi: cube.apply(xi).sum()))(x))
    for o, r in zip(run(torsh), run(torch_ref)):
        assert_close(o, r)


def _vmap_error_functions(lib):
    class Old(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g

    class NoRule(lib.autograd.Function):
        @staticmethod
        def forward(x):
            return x * 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g):
            return g

    class Both(NoRule):
        generate_vmap_rule = True

        @staticmethod
        def vmap(info, in_dims, x):
            return x * 2, 0

    class NotATuple(NoRule):
        @staticmethod
        def vmap(info, in_dims, x):
            return x * 2

    class BadOutDims(NoRule):
        @staticmethod
        def vmap(info, in_dims, x):
            return x * 2, (0, 1)
    return {"old": Old, "no_rule": NoRule, "both": Both, "not_a_tuple": NotATuple, "bad_out_dims": BadOutDims}


@pytest.mark.parametrize("name", ["old", "no_rule", "both", "not_a_tuple", "bad_out_dims"])
def test_vmap_errors_as_pytorch(name):
    def run(lib):
        return lib.func.vmap(_vmap_error_functions(lib)[name].apply)(_t(lib, (3, 2), 0))
    ours = pytest.raises(RuntimeError, run, torsh).value
    ref = pytest.raises(RuntimeError, run, torch_ref).value
    assert str(ours).replace(f"<class '{torsh.__name__}._tensor.Tensor'>", "<class 'torch.Tensor'>") == str(ref)


@pytest.mark.parametrize("transform", ["grad", "jvp", "vmap_of_closure"])
def test_old_style_function_under_transforms_raises_as_pytorch(transform):
    def run(lib):
        old = _vmap_error_functions(lib)["old"]
        x = _t(lib, (3,), 0)
        if transform == "grad":
            return lib.func.grad(lambda a: old.apply(a).sum())(x)
        if transform == "jvp":
            return lib.func.jvp(old.apply, (x,), (x,))
        return lib.func.vmap(lambda a: old.apply(x) * a)(x)
    check_same_error(run)


def test_old_style_function_under_a_plain_dual_level_runs_its_jvp():
    """Outside torch.func, forward_ad.dual_level accepts Functions without setup_context (PyTorch too)."""
    def run(lib):
        mul_scale = _functions(lib)[0]
        return _dual_outputs(lib, lambda x: mul_scale.apply(x, x, 3.0), [_t(lib, (3,), 0)], [_t(lib, (3,), 1)])
    _close(run(torsh), run(torch_ref))
