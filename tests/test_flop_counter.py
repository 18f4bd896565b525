"""torsh.utils.flop_counter.FlopCounterMode against torch.utils.flop_counter: totals and per-module counts of
forward and backward passes (the op keys compared by their names, "aten.mm")."""
import pytest

import torsh
from torsh.utils.flop_counter import FlopCounterMode
from helpers import needs_torch, torch_ref

pytestmark = needs_torch
if torch_ref is not None:
    from torch.utils.flop_counter import FlopCounterMode as RefFlopCounterMode


def _counts(counter):
    return {module: {str(op): n for op, n in ops.items() if n} for module, ops in counter.get_flop_counts().items()}


def _run_both(build, step):
    """Run ``step(lib, *build(lib))`` under each library's counter; returns (ours, theirs)."""
    counters = []
    for lib, mode in ((torsh, FlopCounterMode), (torch_ref, RefFlopCounterMode)):
        lib.manual_seed(0)
        parts = build(lib)
        with mode(display=False) as counter:
            step(lib, *parts)
        counters.append(counter)
    return counters


def _assert_same(ours, theirs):
    assert ours.get_total_flops() == theirs.get_total_flops()
    assert _counts(ours) == _counts(theirs)


def test_linear_forward():
    ours, theirs = _run_both(lambda lib: (lib.nn.Linear(8, 4), lib.randn(3, 8)), lambda lib, m, x: m(x))
    _assert_same(ours, theirs)
    assert ours.get_total_flops() == 2 * 3 * 8 * 4


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(3, 8), (2, 3, 8)])
def test_functional_linear(bias, shape):
    def build(lib):
        return lib.randn(*shape), lib.randn(4, 8), lib.randn(4) if bias else None
    ours, theirs = _run_both(build, lambda lib, x, w, b: lib.nn.functional.linear(x, w, b))
    _assert_same(ours, theirs)


def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)), lib.randn(3, 8)


def test_mlp_forward_backward_per_module():
    ours, theirs = _run_both(_mlp, lambda lib, m, x: m(x).sum().backward())
    _assert_same(ours, theirs)
    assert set(_counts(ours)) == {"Global", "Sequential", "Sequential.0", "Sequential.2"}


def test_mlp_input_gradient_counts_the_first_layer_input_product():
    def build(lib):
        model, x = _mlp(lib)
        return model, x.requires_grad_()
    ours, theirs = _run_both(build, lambda lib, m, x: m(x).sum().backward())
    _assert_same(ours, theirs)


def test_conv2d_forward_backward():
    def build(lib):
        return lib.nn.Conv2d(3, 5, 3, padding=1), lib.randn(2, 3, 8, 8, requires_grad=True)
    ours, theirs = _run_both(build, lambda lib, m, x: m(x).sum().backward())
    _assert_same(ours, theirs)
    assert "aten.convolution_backward" in _counts(ours)["Conv2d"]


def test_conv2d_backward_weight_only():
    def build(lib):
        return lib.nn.Conv2d(3, 5, 3, stride=2), lib.randn(2, 3, 9, 9)
    ours, theirs = _run_both(build, lambda lib, m, x: m(x).sum().backward())
    _assert_same(ours, theirs)


@pytest.mark.parametrize("op, shapes", [
    ("conv1d", ((2, 3, 10), (4, 3, 3))),
    ("conv_transpose2d", ((2, 3, 5, 5), (3, 4, 3, 3))),
])
def test_conv_functional_forward(op, shapes):
    ours, theirs = _run_both(lambda lib: [lib.randn(*s) for s in shapes],
                             lambda lib, x, w: getattr(lib.nn.functional, op)(x, w))
    _assert_same(ours, theirs)


def test_grouped_conv_forward():
    ours, theirs = _run_both(lambda lib: (lib.randn(2, 4, 5, 5), lib.randn(6, 2, 3, 3)),
                             lambda lib, x, w: lib.nn.functional.conv2d(x, w, groups=2))
    _assert_same(ours, theirs)


def test_scaled_dot_product_attention_forward_backward():
    # head dims differ, so PyTorch takes its math path (bmm) on CPU
    def build(lib):
        return [lib.randn(*s, requires_grad=True) for s in ((2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 4))]
    ours, theirs = _run_both(
        build, lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v).sum().backward())
    _assert_same(ours, theirs)


@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)),
                                    ((4,), (4,)), ((2, 2, 3, 4), (2, 2, 4, 5)), ((2, 3, 4), (1, 4, 5))])
def test_matmul_shapes(shapes):
    ours, theirs = _run_both(lambda lib: [lib.randn(*s) for s in shapes], lambda lib, a, b: a @ b)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("op, shapes", [("addmm", ((3, 5), (3, 4), (4, 5))), ("baddbmm", ((2, 3, 5), (2, 3, 4), (2, 4, 5))),
                                        ("mm", ((3, 4), (4, 5))), ("bmm", ((2, 3, 4), (2, 4, 5))),
                                        ("mv", ((3, 4), (4,))), ("dot", ((4,), (4,)))])
def test_product_ops(op, shapes):
    ours, theirs = _run_both(lambda lib: [lib.randn(*s) for s in shapes], lambda lib, *xs: getattr(lib, op)(*xs))
    _assert_same(ours, theirs)


def test_display_prints_table(capsys):
    model, x = _mlp(torsh)
    with FlopCounterMode(display=True, depth=1):
        model(x)
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["Module", "FLOP", "%", "Total"]
    assert out[2].split() == ["Sequential", f"{2 * 3 * (8 * 16 + 16 * 4):.3f}", "100.00%"]
    assert not any("Sequential.0" in line for line in out)  # below depth 1


def test_table_matches_pytorch_rows():
    ours, theirs = _run_both(_mlp, lambda lib, m, x: m(x).sum().backward())
    # PyTorch formats with tabulate (not installed here): compare each row's cells
    ref_rows = _ref_rows(theirs, depth=2)
    our_rows = [line.split() for line in ours.get_table(2).splitlines()[2:]]
    assert sorted(our_rows) == sorted(ref_rows)


def _ref_rows(counter, depth):
    from torch.utils import flop_counter as ref
    total = counter.get_total_flops()
    suffix = ref.get_suffix_str(total)
    rows = []
    for name, ops in counter.get_flop_counts().items():
        if name == "Global" or name.count(".") + 1 > depth:
            continue
        rows.append([name, ref.convert_num_with_suffix(sum(ops.values()), suffix),
                     ref.convert_to_percent_str(sum(ops.values()), total)])
        rows += [["-", str(op), ref.convert_num_with_suffix(n, suffix), ref.convert_to_percent_str(n, total)]
                 for op, n in ops.items()]
    return rows


def test_counts_reset_on_reentry_and_ops_after_exit_not_counted():
    counter = FlopCounterMode(display=False)
    a, b = torsh.randn(3, 4), torsh.randn(4, 5)
    with counter:
        a @ b
    with counter:
        a @ b
    a @ b
    assert counter.get_total_flops() == 2 * 3 * 4 * 5
    assert torsh.Tensor.matmul.__module__.startswith("torsh._ops")  # hook released


def test_mods_argument_warns_and_modules_tracked():
    model, x = _mlp(torsh)
    with pytest.warns(UserWarning, match="mods argument is not needed anymore"):
        counter = FlopCounterMode(model, display=False)
    with counter:
        model(x)
    assert _counts(counter)["Sequential.2"] == {"aten.addmm": 2 * 3 * 16 * 4}


def test_custom_mapping_called_on_shapes():
    def mm_flop(a_shape, b_shape, out_shape=None):
        return a_shape[0] * 1000 + b_shape[1] * 10 + out_shape[0]
    ours = FlopCounterMode(display=False, custom_mapping={"mm": mm_flop})
    theirs = RefFlopCounterMode(display=False, custom_mapping={torch_ref.ops.aten.mm: mm_flop})
    for lib, counter in ((torsh, ours), (torch_ref, theirs)):
        with counter:
            lib.mm(lib.randn(3, 4), lib.randn(4, 5))
    _assert_same(ours, theirs)


def test_vmap_and_grad_totals_inside_counter():
    def run(lib, a, b):
        lib.func.vmap(lambda x, y: x @ y)(a, b)
        lib.func.grad(lambda x: (x @ b[0]).sum())(a[0])
    ours, theirs = _run_both(lambda lib: (lib.randn(4, 3, 5), lib.randn(4, 5, 2)), run)
    assert ours.get_total_flops() == theirs.get_total_flops()


def test_error_inside_releases_hooks():
    model, x = _mlp(torsh)
    with pytest.raises(ValueError):
        with FlopCounterMode(display=False):
            model(x)
            raise ValueError("stop")
    with FlopCounterMode(display=False) as counter:  # a second counter can start: the first let go
        model(x)
    assert counter.get_total_flops() == 2 * 3 * (8 * 16 + 16 * 4)


@pytest.mark.parametrize("op, shapes, kwargs", [
    ("conv1d", ((2, 3, 10), (4, 3, 3)), {"padding": 1}),
    ("conv3d", ((1, 2, 4, 5, 5), (3, 2, 2, 3, 3)), {}),
    ("conv2d", ((2, 4, 6, 6), (6, 2, 3, 3)), {"groups": 2, "stride": 2}),
    ("conv_transpose2d", ((2, 3, 5, 5), (3, 4, 3, 3)), {"stride": 2}),
    ("conv_transpose1d", ((2, 3, 7), (3, 2, 3)), {}),
])
@pytest.mark.parametrize("input_grad", [True, False])
def test_conv_functional_forward_backward(op, shapes, kwargs, input_grad):
    def build(lib):
        x, w = lib.randn(*shapes[0]), lib.randn(*shapes[1])
        return x.requires_grad_(input_grad), w.requires_grad_()
    ours, theirs = _run_both(build, lambda lib, x, w: getattr(lib.nn.functional, op)(x, w, **kwargs).sum().backward())
    _assert_same(ours, theirs)


@pytest.mark.parametrize("shapes", [((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((4,), (4, 5)), ((3, 4), (4, 5))])
def test_matmul_backward_totals(shapes):
    # a batch times a matrix: PyTorch folds the batch into mm for both gradients, torsh's weight gradient is a
    # bmm then a sum (same FLOPs, counted under aten.bmm): totals compared
    ours, theirs = _run_both(lambda lib: [lib.randn(*s, requires_grad=True) for s in shapes],
                             lambda lib, a, b: (a @ b).sum().backward())
    assert ours.get_total_flops() == theirs.get_total_flops()


def test_scaled_dot_product_attention_fused_path_totals():
    # equal head dims, no mask: PyTorch runs its CPU flash kernel, which its counter has no formula for, and
    # torsh its fused kernel, which no hook sees: both totals are 0
    def build(lib):
        return [lib.randn(*s, requires_grad=True) for s in ((2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 8))]
    ours, theirs = _run_both(
        build, lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v).sum().backward())
    assert ours.get_total_flops() == theirs.get_total_flops()
