"""torsh.autocast / torsh.amp against PyTorch 2.13: CPU cast policy, state functions, GradScaler."""
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, dtype_name, needs_torch, torch_ref

pytestmark = needs_torch


def _t(lib, shape, seed):
    return lib.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=lib.float32)


# ops of PyTorch's CPU lower-precision list that torsh hooks, plus ops outside it (kept in float32)
OPS = {
    "linear": lambda L: L.nn.functional.linear(_t(L, (2, 3, 4), 0), _t(L, (5, 4), 1), _t(L, (5,), 2)),
    "linear_no_bias": lambda L: L.nn.functional.linear(_t(L, (3, 4), 0), _t(L, (5, 4), 1)),
    "matmul": lambda L: L.matmul(_t(L, (2, 3, 4), 0), _t(L, (4, 5), 1)),
    "matmul_operator": lambda L: _t(L, (3, 4), 0) @ _t(L, (4,), 1),
    "mm": lambda L: L.mm(_t(L, (3, 4), 0), _t(L, (4, 5), 1)),
    "bmm": lambda L: L.bmm(_t(L, (2, 3, 4), 0), _t(L, (2, 4, 5), 1)),
    "addmm": lambda L: L.addmm(_t(L, (3, 5), 2), _t(L, (3, 4), 0), _t(L, (4, 5), 1)),
    "baddbmm": lambda L: L.baddbmm(_t(L, (2, 3, 5), 2), _t(L, (2, 3, 4), 0), _t(L, (2, 4, 5), 1)),
    "addbmm": lambda L: L.addbmm(_t(L, (3, 5), 2), _t(L, (2, 3, 4), 0), _t(L, (2, 4, 5), 1)),
    "conv1d": lambda L: L.nn.functional.conv1d(_t(L, (2, 3, 8), 0), _t(L, (4, 3, 3), 1), _t(L, (4,), 2)),
    "conv2d": lambda L: L.nn.functional.conv2d(_t(L, (1, 2, 5, 5), 0), _t(L, (3, 2, 2, 2), 1), padding=1),
    "conv3d": lambda L: L.nn.functional.conv3d(_t(L, (1, 2, 3, 3, 3), 0), _t(L, (2, 2, 2, 2, 2), 1)),
    "conv_transpose1d": lambda L: L.nn.functional.conv_transpose1d(_t(L, (2, 3, 4), 0), _t(L, (3, 2, 2), 1)),
    "conv_transpose2d": lambda L: L.nn.functional.conv_transpose2d(_t(L, (1, 3, 4, 4), 0), _t(L, (3, 2, 2, 2), 1),
                                                                   stride=2),
    "float64_linear": lambda L: L.nn.functional.linear(_t(L, (3, 4), 0).double(), _t(L, (5, 4), 1).double()),
    "module_linear": lambda L: _linear_module(L)(_t(L, (3, 4), 0)),
    "relu_not_listed": lambda L: L.relu(_t(L, (3, 4), 0)),
    "add_not_listed": lambda L: _t(L, (3, 4), 0) + _t(L, (3, 4), 1),
}


def _linear_module(lib):
    m = lib.nn.Linear(4, 5)
    with lib.no_grad():
        m.weight.copy_(_t(lib, (5, 4), 1))
        m.bias.copy_(_t(lib, (5,), 2))
    return m


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_autocast_output_dtype_and_values_match_torch(name, dtype):
    def run(lib):
        with lib.autocast("cpu", dtype=getattr(lib, dtype)):
            return OPS[name](lib)

    ours, ref = run(torsh), run(torch_ref)
    assert dtype_name(ours.dtype) == dtype_name(ref.dtype)
    low = dtype_name(ref.dtype) in ("bfloat16", "float16")
    assert_close(ours, ref, rtol=5e-2 if low else 1e-5, atol=5e-2 if low else 1e-5)


def test_autocast_nesting_disable_decorator_and_state_functions():
    for lib in (torsh, torch_ref):
        x, w = _t(lib, (3, 4), 0), _t(lib, (5, 4), 1)
        seen = []
        with lib.autocast("cpu"):  # the default CPU dtype is bfloat16
            seen.append(lib.nn.functional.linear(x, w).dtype)
            seen += [lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled(), lib.get_autocast_dtype("cpu")]
            with lib.autocast("cpu", enabled=False):
                seen += [lib.nn.functional.linear(x, w).dtype, lib.is_autocast_enabled("cpu")]
                with lib.amp.autocast("cpu", dtype=lib.float16):
                    seen += [lib.mm(x, w.t()).dtype, lib.get_autocast_dtype("cpu")]
            seen += [lib.mm(x, w.t()).dtype, lib.get_autocast_dtype("cpu")]

        @lib.autocast("cpu", dtype=lib.bfloat16)
        def decorated(a, b):
            return lib.mm(a, b)
        seen += [decorated(x, w.t()).dtype, lib.is_autocast_enabled("cpu"), lib.get_autocast_dtype("cpu"),
                 lib.is_autocast_cache_enabled()]
        if lib is torsh:
            ours = [dtype_name(s) if not isinstance(s, bool) else s for s in seen]
        else:
            ref = [dtype_name(s) if not isinstance(s, bool) else s for s in seen]
    assert ours == ref


def test_autocast_gradients_flow_to_float32_parameters():
    def run(lib):
        m = _linear_module(lib)
        x = _t(lib, (3, 4), 0)
        with lib.autocast("cpu", dtype=lib.bfloat16):
            out = m(x)
            out2 = m(x)  # the cached bfloat16 weight is reused
        (out.float().sum() + out2.float().sum()).backward()
        return m.weight.grad, m.bias.grad

    for a, e in zip(run(torsh), run(torch_ref)):
        assert dtype_name(a.dtype) == "float32"
        assert_close(a, e, rtol=2e-2, atol=2e-2)


def _warnings_of(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [(w.category, str(w.message).replace("torsh.", "torch.")) for w in caught]


@pytest.mark.parametrize("case", ["cpu_amp_autocast", "cpu_amp_gradscaler", "unsupported_dtype", "cuda_autocast"])
def test_warnings_match_torch(case):
    def call(lib):
        if case == "cpu_amp_autocast":
            with lib.cpu.amp.autocast():
                pass
        elif case == "cpu_amp_gradscaler":
            lib.cpu.amp.GradScaler()
        elif case == "unsupported_dtype":
            with lib.autocast("cpu", dtype=lib.float64):
                assert not lib.is_autocast_enabled("cpu")
        else:
            with lib.autocast("cuda"):
                pass

    assert _warnings_of(lambda: call(torsh)) == _warnings_of(lambda: call(torch_ref))


def test_autocast_errors_match_torch():
    from helpers import check_same_error
    check_same_error(lambda lib: lib.autocast(device_type=3))
    check_same_error(lambda lib: lib.autocast("cpu")(5))


def _scaler_run(lib, steps=8, overflow_at=(2, 5)):
    """A small training loop whose gradient overflows (inf) at some steps; returns the scale trajectory,
    the state_dict and the final weights."""
    model = _linear_module(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    scaler = lib.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)
    x, y = _t(lib, (6, 4), 3), _t(lib, (6, 5), 4)
    scales = []
    for step in range(steps):
        opt.zero_grad()
        with lib.autocast("cpu", dtype=lib.bfloat16):
            loss = lib.nn.functional.mse_loss(model(x).float(), y)
        if step in overflow_at:
            loss = loss * float("inf")
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return scales, scaler.state_dict(), model.weight.detach()


def test_gradscaler_trajectory_state_dict_and_weights_match_torch():
    ours, ref = _scaler_run(torsh), _scaler_run(torch_ref)
    assert ours[0] == ref[0]
    assert ours[1] == ref[1]
    assert_close(ours[2], ref[2], rtol=2e-2, atol=2e-2)


def test_gradscaler_unscale_and_step_order_errors_match_torch():
    from helpers import check_same_error

    def twice(method):
        def run(lib):
            p = lib.nn.Parameter(lib.ones(2))
            opt = lib.optim.SGD([p], lr=0.1)
            scaler = lib.amp.GradScaler("cpu")
            scaler.scale((p * 2).sum()).backward()
            getattr(scaler, method)(opt)
            getattr(scaler, method)(opt)
        return run

    check_same_error(twice("unscale_"))
    check_same_error(twice("step"))


def test_gradscaler_unscale_divides_gradients_and_load_state_dict():
    def run(lib):
        p = lib.nn.Parameter(lib.tensor([1.0, -2.0]))
        opt = lib.optim.SGD([p], lr=0.1)
        scaler = lib.amp.GradScaler("cpu", init_scale=3.0)
        scaler.scale((p * p).sum()).backward()
        scaled = p.grad.clone()
        scaler.unscale_(opt)
        other = lib.amp.GradScaler("cpu")
        other.load_state_dict({"scale": 8.0, "growth_factor": 3.0, "backoff_factor": 0.25, "growth_interval": 7,
                               "_growth_tracker": 2})
        return scaled, p.grad, other.state_dict(), other.get_scale()

    ours, ref = run(torsh), run(torch_ref)
    assert_close(ours[0], ref[0])
    assert_close(ours[1], ref[1])
    assert ours[2:] == ref[2:]


# -- PyTorch's fp32 list: float16/bfloat16 inputs run in float32 inside autocast ----------------------------
def _fp32_inputs(lib):
    rs = np.random.RandomState(7)
    bf = lambda a: lib.tensor(a.astype(np.float32)).bfloat16()
    x, p = bf(rs.randn(4, 6)), bf(rs.rand(4, 6))
    return x, p, lib.tensor(rs.randint(0, 6, 4)), bf(rs.randn(1, 2, 4, 4, 4))


FP32_OPS = {
    "cross_entropy": lambda lib, x, p, t, v: lib.nn.functional.cross_entropy(x, t, label_smoothing=0.1),
    "nll_loss": lambda lib, x, p, t, v: lib.nn.functional.nll_loss(x, t),
    "mse_loss": lambda lib, x, p, t, v: lib.nn.functional.mse_loss(x, p),
    "l1_loss": lambda lib, x, p, t, v: lib.nn.functional.l1_loss(x, p),
    "smooth_l1_loss": lambda lib, x, p, t, v: lib.nn.functional.smooth_l1_loss(x, p),
    "huber_loss": lambda lib, x, p, t, v: lib.nn.functional.huber_loss(x, p),
    "binary_cross_entropy": lambda lib, x, p, t, v: lib.nn.functional.binary_cross_entropy(p, p),
    "bce_with_logits": lambda lib, x, p, t, v: lib.nn.functional.binary_cross_entropy_with_logits(x, p),
    "kl_div": lambda lib, x, p, t, v: lib.nn.functional.kl_div(x, p, reduction="batchmean"),
    "soft_margin_loss": lambda lib, x, p, t, v: lib.nn.functional.soft_margin_loss(x, p),
    "hinge_embedding_loss": lambda lib, x, p, t, v: lib.nn.functional.hinge_embedding_loss(x, p),
    "poisson_nll_loss": lambda lib, x, p, t, v: lib.nn.functional.poisson_nll_loss(x, p),
    "multi_margin_loss": lambda lib, x, p, t, v: lib.nn.functional.multi_margin_loss(x, t),
    "triplet_margin_loss": lambda lib, x, p, t, v: lib.nn.functional.triplet_margin_loss(x, p, p.flip(0)),
    "prod": lambda lib, x, p, t, v: p.prod(1),
    "cdist": lambda lib, x, p, t, v: lib.cdist(x, p),
    "quantile": lambda lib, x, p, t, v: lib.quantile(x, 0.3, dim=1),
    "trace": lambda lib, x, p, t, v: x.trace(),
    "avg_pool3d": lambda lib, x, p, t, v: lib.nn.functional.avg_pool3d(v, 2),
    "max_pool3d": lambda lib, x, p, t, v: lib.nn.functional.max_pool3d(v, 2),
    "adaptive_avg_pool3d": lambda lib, x, p, t, v: lib.nn.functional.adaptive_avg_pool3d(v, 1),
    "grid_sample": lambda lib, x, p, t, v: lib.nn.functional.grid_sample(
        v[:, :, 0], lib.zeros(1, 2, 2, 2, dtype=lib.bfloat16), align_corners=False),
    "linalg.inv": lambda lib, x, p, t, v: lib.linalg.inv(_spd(lib, x)),
    "inverse": lambda lib, x, p, t, v: lib.inverse(_spd(lib, x)),
    "linalg.cholesky": lambda lib, x, p, t, v: lib.linalg.cholesky(_spd(lib, x)),
    "linalg.solve": lambda lib, x, p, t, v: lib.linalg.solve(_spd(lib, x), p),
    "linalg.lstsq": lambda lib, x, p, t, v: lib.linalg.lstsq(_spd(lib, x), p).solution,
    "linalg.eigvalsh": lambda lib, x, p, t, v: lib.linalg.eigvalsh(_spd(lib, x)),
    "linalg.svdvals": lambda lib, x, p, t, v: lib.linalg.svdvals(x),
    "pinverse": lambda lib, x, p, t, v: lib.pinverse(_spd(lib, x)),
    "fft.rfft": lambda lib, x, p, t, v: lib.fft.rfft(x).abs(),
    "fft.fft2": lambda lib, x, p, t, v: lib.fft.fft2(x).abs(),
    "fft.irfft": lambda lib, x, p, t, v: lib.fft.irfft(x),
    "pad reflect": lambda lib, x, p, t, v: lib.nn.functional.pad(x[None], (2, 1), mode="reflect"),
    "pad replicate": lambda lib, x, p, t, v: lib.nn.functional.pad(v, (1, 1, 1, 1, 1, 1), mode="replicate"),
}


def _spd(lib, x):
    """A well-conditioned symmetric positive definite bfloat16 matrix from x (4x6)."""
    return (x @ x.T / 6 + lib.eye(4)).bfloat16()


@pytest.mark.parametrize("name", sorted(FP32_OPS))
def test_fp32_list_ops_run_in_float32_inside_autocast(name):
    def run(lib):
        with lib.autocast("cpu", dtype=lib.bfloat16):
            return FP32_OPS[name](lib, *_fp32_inputs(lib))

    ours, ref = run(torsh), run(torch_ref)
    assert dtype_name(ours.dtype) == dtype_name(ref.dtype) == "float32"
    assert_close(ours, ref)
    # bfloat16 linalg/fft and avg_pool3d have no kernels (PyTorch's avg_pool3d_out_frame refuses BFloat16)
    if not name.startswith(("linalg", "inverse", "pinverse", "fft", "avg_pool3d")):
        outside = FP32_OPS[name](torsh, *_fp32_inputs(torsh))
        assert dtype_name(outside.dtype) == "bfloat16"  # the policy is autocast's only


def test_prelu_is_on_the_lower_precision_list():
    def run(lib):
        with lib.autocast("cpu", dtype=lib.bfloat16):
            return lib.nn.functional.prelu(lib.linspace(-2, 2, 12).reshape(3, 4), lib.full((1,), 0.25))

    ours, ref = run(torsh), run(torch_ref)
    assert dtype_name(ours.dtype) == dtype_name(ref.dtype) == "bfloat16"
    assert_close(ours, ref)
