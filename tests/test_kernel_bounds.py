"""The compiled kernels refuse geometry their buffers cannot hold (ValueError) instead of reading or
writing out of bounds: each entry point is called directly, on both ISA copies of its family,
with sizes a Python caller would have rejected. A crash here would kill pytest, so every call is
also run once in a subprocess first (``test_bad_calls_do_not_crash_the_interpreter``)."""
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

ISAS = ["", "_avx2"]


def family(name, isa):
    """The compiled module ``torsh._kernels.<name><isa>`` (skips the v3 copy where it is not built)."""
    import torsh  # noqa: F401 - builds/loads the kernels
    if isa and importlib.util.find_spec(f"torsh._kernels.{name}{isa}") is None:
        pytest.skip("x86-64-v3 copies are only built on x86-64 without -Dmarch")
    return importlib.import_module(f"torsh._kernels.{name}{isa}")


F32 = np.float32


def _im2col_args(n=2, c=2, h=1, w=6, kh=2, kw=2, sh=1, sw=1, ph=1, pw=1, dh=1, dw=1):
    """A consistent im2col2d geometry (sample-major) and the buffer sizes it needs."""
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    rows = c * kh * kw
    geom = [n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, rows * oh * ow, oh * ow]
    return geom, n * c * h * w, n * rows * oh * ow


@pytest.mark.parametrize("isa", ISAS)
def test_im2col_and_col2im_run_on_exact_buffers(isa):
    conv = family("conv", isa)
    geom, x_size, cols_size = _im2col_args()
    x = np.arange(x_size, dtype=F32)
    cols = np.empty(cols_size, F32)
    conv.im2col2d(x, cols, *geom, False)
    dx = np.empty(x_size, F32)
    conv.col2im2d(cols, dx, *geom, False)
    # each input element lies in the same number of windows for this geometry's interior: a sanity check
    assert np.isfinite(dx).all() and dx.sum() > 0


BAD_IM2COL = {  # index into the geometry list -> a bad value
    "stride -1 (the issue's reproducer)": {6: -1, 7: -1},
    "stride 0": {6: 0},
    "dilation 0": {10: 0},
    "dilation -2": {11: -2},
    "negative padding": {8: -1},
    "negative kernel": {4: -1},
    "output rows larger than the columns": {12: 50},
    "row stride larger than the columns": {15: 10 ** 6},
    "more samples than the input holds": {0: 3},
    "more channels than the input holds": {1: 4},
    "huge sizes that overflow int64 products": {0: 1 << 40, 1: 1 << 40, 2: 1 << 40},
    "huge stride": {6: 1 << 62},
}


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("op", ["im2col2d", "col2im2d"])
@pytest.mark.parametrize("case", sorted(BAD_IM2COL))
def test_im2col_and_col2im_refuse_bad_geometry(isa, op, case):
    conv = family("conv", isa)
    geom, x_size, cols_size = _im2col_args()
    for i, v in BAD_IM2COL[case].items():
        geom[i] = v
    x, cols = np.zeros(x_size, F32), np.zeros(cols_size, F32)
    args = (x, cols) if op == "im2col2d" else (cols, x)
    with pytest.raises(ValueError, match=op):
        getattr(conv, op)(*args, *geom, False)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_refuses_a_columns_buffer_one_element_short(isa, dtype):
    conv = family("conv", isa)
    geom, x_size, cols_size = _im2col_args()
    with pytest.raises(ValueError, match="im2col2d"):
        conv.im2col2d(np.zeros(x_size, dtype), np.zeros(cols_size - 1, dtype), *geom, True)
    with pytest.raises(ValueError, match="col2im2d"):
        conv.col2im2d(np.zeros(cols_size, dtype), np.zeros(x_size - 1, dtype), *geom, True)


def _pool_geom(planes=3, h=5, w=6, k=2, s=2, p=0, d=1):
    oh = (h + 2 * p - d * (k - 1) - 1) // s + 1
    ow = (w + 2 * p - d * (k - 1) - 1) // s + 1
    return [planes, h, w, oh, ow, k, k, s, s, p, p, d, d]


BAD_POOL = {
    "stride 0": {7: 0},
    "stride -1": {8: -1},
    "kernel 0": {5: 0},
    "negative padding": {9: -1},
    "output larger than out": {3: 10},
    "more planes than x holds": {0: 4},
    "huge planes": {0: 1 << 40, 3: 1 << 40, 4: 1 << 40},
}


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", sorted(BAD_POOL) + ["dilation 0"])
def test_max_pool_refuses_bad_geometry(isa, case):
    conv = family("conv", isa)
    geom = _pool_geom()
    planes, h, w, oh, ow = geom[:5]
    x, out, idx = np.zeros(planes * h * w, F32), np.zeros(planes * oh * ow, F32), np.zeros(planes * oh * ow, np.int64)
    conv.max_pool2d_planes(x, out, idx, *geom, False)  # the consistent call runs
    for i, v in BAD_POOL.get(case, {11: 0}).items():
        geom[i] = v
    with pytest.raises(ValueError, match="max_pool2d_planes"):
        conv.max_pool2d_planes(x, out, idx, *geom, False)


@pytest.mark.parametrize("isa", ISAS)
def test_max_pool_refuses_an_index_buffer_too_small(isa):
    conv = family("conv", isa)
    geom = _pool_geom()
    planes, h, w, oh, ow = geom[:5]
    with pytest.raises(ValueError, match="max_pool2d_planes"):
        conv.max_pool2d_planes(np.zeros(planes * h * w), np.zeros(planes * oh * ow), np.zeros(oh * ow, np.int64),
                               *geom, False)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("op", ["avg_pool2d_planes", "avg_pool2d_adjoint_planes"])
@pytest.mark.parametrize("case", sorted(BAD_POOL) + ["scale too short"])
def test_avg_pool_and_adjoint_refuse_bad_geometry(isa, op, case):
    conv = family("conv", isa)
    geom = _pool_geom()[:11]  # no dilation
    planes, h, w, oh, ow = geom[:5]
    big, small, scale = np.zeros(planes * h * w, F32), np.zeros(planes * oh * ow, F32), np.ones(oh * ow, F32)
    args = (big, small) if op == "avg_pool2d_planes" else (small, big)
    getattr(conv, op)(*args, scale, *geom, False)  # the consistent call runs
    if case == "scale too short":
        scale = scale[:-1].copy()
    for i, v in BAD_POOL.get(case, {}).items():
        if i < len(geom):
            geom[i] = v
    with pytest.raises(ValueError, match=op):
        getattr(conv, op)(*args, scale, *geom, False)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("bad", [-1, 20, 1 << 40])
def test_gather_and_scatter_refuse_indices_outside_the_plane(isa, bad):
    conv = family("conv", isa)
    x = np.arange(2 * 20, dtype=F32).reshape(2, 20)
    idx = np.array([[0, 3, 19], [5, bad, 1]], np.int64)
    with pytest.raises(ValueError, match="gather_planes: an index is outside the plane"):
        conv.gather_planes(x, idx, np.zeros((2, 3), F32), False)
    with pytest.raises(ValueError, match="scatter_add_planes: an index is outside the plane"):
        conv.scatter_add_planes(np.ones((2, 3), F32), idx, np.zeros((2, 20), F32), True)


@pytest.mark.parametrize("isa", ISAS)
def test_gather_and_scatter_refuse_short_rows(isa):
    conv = family("conv", isa)
    idx = np.zeros((2, 3), np.int64)
    with pytest.raises(ValueError, match="gather_planes"):
        conv.gather_planes(np.zeros((2, 20)), idx, np.zeros((2, 2)), False)  # out narrower than idx
    with pytest.raises(ValueError, match="gather_planes"):
        conv.gather_planes(np.zeros((3, 20)), idx, np.zeros((3, 3)), False)  # fewer index rows than planes
    with pytest.raises(ValueError, match="scatter_add_planes"):
        conv.scatter_add_planes(np.zeros((2, 2)), idx, np.zeros((2, 20)), False)  # g narrower than idx
    # and the valid call gathers the right values
    out = np.zeros((2, 3))
    conv.gather_planes(np.arange(40.0).reshape(2, 20), np.array([[1, 2, 3], [0, 19, 4]]), out, False)
    np.testing.assert_array_equal(out, [[1, 2, 3], [20, 39, 24]])


@pytest.mark.parametrize("isa", ISAS)
def test_embedding_backward_refuses_bad_rows_and_indices(isa):
    emb = family("embedding", isa)
    g = np.ones((4, 8), F32)
    out = np.zeros((5, 8), F32)
    emb.embedding_backward(g, np.array([0, 1, 4, 1]), -1, out, 2, True)
    np.testing.assert_array_equal(out[:, 0], [1, 2, 0, 0, 1])
    with pytest.raises(ValueError, match="embedding_backward: an index is outside"):
        emb.embedding_backward(g, np.array([0, 1, 5, 1]), -1, out, 1, False)
    with pytest.raises(ValueError, match="embedding_backward: an index is outside"):
        emb.embedding_backward(g, np.array([0, -1, 2, 1]), 3, out, 1, False)
    with pytest.raises(ValueError, match="embedding_backward: g needs"):
        emb.embedding_backward(g, np.array([0, 1, 2, 1, 3]), -1, out, 1, False)  # more indices than rows
    with pytest.raises(ValueError, match="embedding_backward: g needs"):
        emb.embedding_backward(g, np.array([0, 1, 2, 1]), -1, np.zeros((5, 4), F32), 1, False)
    with pytest.raises(ValueError, match="embedding_backward: g needs"):
        emb.embedding_backward(g, np.array([0, 1, 2, 1]), -1, out, 0, True)


def _rnn_operands(rows, hidden, gates, dtype=F32):
    return np.zeros((rows, gates * hidden), dtype), np.zeros((rows, hidden), dtype)


@pytest.mark.parametrize("isa", ISAS)
def test_rnn_steps_refuse_operands_of_other_shapes(isa):
    rnn = family("rnn", isa)
    B, H = 3, 4
    wide4, narrow = _rnn_operands(B, H, 4)
    wide3, _ = _rnn_operands(B, H, 3)
    short = np.zeros((B - 1, H), F32)
    rnn.lstm_step_forward(wide4, wide4.copy(), narrow, wide4.copy(), narrow.copy(), narrow.copy(), narrow.copy(),
                          False)
    with pytest.raises(ValueError, match="lstm_step_forward"):
        rnn.lstm_step_forward(wide4, wide4.copy(), short, wide4.copy(), narrow.copy(), narrow.copy(), narrow.copy(),
                              False)
    with pytest.raises(ValueError, match="lstm_step_backward"):
        rnn.lstm_step_backward(narrow.copy(), narrow, narrow.copy(), wide3, narrow, narrow, wide4.copy(), False)
    with pytest.raises(ValueError, match="gru_step_forward"):
        rnn.gru_step_forward(wide3, wide3.copy(), np.zeros(H - 1, F32), narrow, wide3.copy(), narrow.copy(),
                             narrow.copy(), False)
    with pytest.raises(ValueError, match="gru_step_backward"):
        rnn.gru_step_backward(narrow.copy(), narrow, narrow.copy(), wide3, narrow, narrow, wide3.copy(),
                              np.zeros((B, 2 * H), F32), False)


def _lstm_layer_args(steps=3, batch=2, features=3, hidden=4):
    """lstm_layer_forward's and lstm_layer_backward's operands on exact buffers (their last six arguments:
    steps, rows, features, hidden, reverse, threads)."""
    f32 = lambda *shape: np.zeros(shape, F32)  # noqa: E731
    w_ih, w_hh, x = f32(4 * hidden, features), f32(4 * hidden, hidden), f32(steps, batch, features)
    gates = lambda: f32(steps, batch, 4 * hidden)  # noqa: E731
    units = lambda: f32(steps, batch, hidden)  # noqa: E731
    state = lambda: f32(batch, hidden)  # noqa: E731
    shape = [steps, batch, features, hidden, False, 2]
    forward = [w_ih, w_hh, f32(4 * hidden), x, state(), state(), gates(), units(), units(), units()] + shape
    backward = [w_ih, w_hh, x, state(), units(), units(), state(), state(), gates(), units(), units(), state(),
                gates(), f32(steps, batch, features), f32(4 * hidden, features), f32(4 * hidden, hidden),
                f32(4 * hidden)] + list(shape)
    return forward, backward


@pytest.mark.parametrize("isa", ISAS)
def test_lstm_layer_refuses_shapes_its_buffers_cannot_hold(isa):
    cell = family("lstm_cell", isa)
    forward, backward = _lstm_layer_args()
    cell.lstm_layer_forward(*forward)
    cell.lstm_layer_backward(*backward)
    for args, op in ((forward, cell.lstm_layer_forward), (backward, cell.lstm_layer_backward)):
        name = op.__name__
        for position, value, message in ((-5, 3, "holds"),  # more rows than the buffers have
                                         (-6, 4, "holds"),  # more steps
                                         (-4, 2, "w_ih holds"),  # fewer features
                                         (-3, 8, "holds"),  # another hidden size
                                         (-6, 1 << 62, "negative or too large shape"),
                                         (-5, -1, "negative or too large shape"),
                                         (-4, -1, "negative or too large shape")):
            bad = list(args)
            bad[position] = value
            with pytest.raises(ValueError, match=f"{name}: .*{message}"):
                op(*bad)


@pytest.mark.parametrize("isa", ISAS)
def test_lstm_cell_gemm_and_pack_refuse_what_their_buffers_cannot_hold(isa):
    cell = family("lstm_cell", isa)
    a, b, c = np.zeros((4, 3), F32), np.zeros((3, 5), F32), np.zeros((4, 5), F32)
    packed = cell.pack_weight(b, 3, 5, False)
    cell.gemm(a, packed, c, 4, 3, 5, 3, 1, False)
    cell.gemm(a, packed, c, 4, 3, 5, 1, 4, False)  # a read as a transposed (3, 4): its last element is a[11]
    with pytest.raises(ValueError, match="gemm: a holds 48 bytes, the strides read element 13"):
        cell.gemm(a, packed, c, 4, 3, 5, 3, 2, False)
    with pytest.raises(ValueError, match="gemm: c holds 80 bytes, expected 8 float32 values"):
        cell.gemm(a, cell.pack_weight(b[:, :2].copy(), 3, 2, False), c, 4, 3, 2, 3, 1, False)
    with pytest.raises(ValueError, match="gemm: the packed weight holds"):
        cell.gemm(np.zeros((4, 4), F32), packed, c, 4, 4, 5, 4, 1, False)  # packed for K = 3, not 4
    with pytest.raises(ValueError, match="gemm: negative or too large"):
        cell.gemm(a, packed, c, 4, 3, 5, -3, 1, False)
    with pytest.raises(ValueError, match="gemm: negative or too large"):
        cell.gemm(a, packed, c, 4, 3, 5, 1 << 62, 1 << 62, False)
    with pytest.raises(ValueError, match="pack_weight: w holds 60 bytes, expected 16 float32 values"):
        cell.pack_weight(b, 4, 4, False)
    with pytest.raises(ValueError, match="pack_weight: negative or too large shape"):
        cell.pack_weight(b, 1 << 32, 1 << 32, True)


@pytest.mark.parametrize("isa", ISAS)
def test_conv_direct_refuses_shapes_whose_product_overflows(isa):
    direct = family("conv_direct", isa)
    xp, w, b, out = np.zeros(16, F32), np.zeros(4, F32), np.zeros(1, F32), np.zeros(4, F32)
    huge = 1 << 32
    with pytest.raises(ValueError, match="conv2d_direct: the shape arguments make xp larger than any buffer"):
        direct.conv2d_direct(xp, w, b, out, huge, huge, 4, 4, 1, 2, 2, 3, 3, False)
    with pytest.raises(ValueError, match="conv2d_direct_weight_grad: the shape arguments make"):
        direct.conv2d_direct_weight_grad(xp, out, w, huge, huge, 4, 4, 1, 2, 2, 3, 3, False)
    with pytest.raises(ValueError, match="conv2d_direct: inconsistent shape"):
        direct.conv2d_direct(xp, w, b, out, 1, 1, -(1 << 62), 4, 1, 2, 2, 3, 3, False)


def _direct_geometry(n=2, c=3, h=7, w=6, o=5, kh=3, kw=2, sh=2, sw=1, ph=1, pw=2):
    """A consistent conv2d (strided, padded) geometry of the conv_direct family and its buffer sizes."""
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    return [n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow], n * c * h * w, o * c * kh * kw, n * o * oh * ow


@pytest.mark.parametrize("isa", ISAS)
def test_conv_direct_strided_entry_points_run_on_exact_buffers_and_refuse_smaller(isa):
    direct = family("conv_direct", isa)
    geom, x_size, w_size, y_size = _direct_geometry()
    o = geom[4]
    x, w, b, y = np.ones(x_size, F32), np.ones(w_size, F32), np.zeros(o, F32), np.zeros(y_size, F32)
    direct.conv2d(x, w, b, y, *geom, False)
    direct.conv2d_weight_grad(x, y, w, *geom, False)
    for name in ("x", "w", "b", "out"):
        args = dict(x=x, w=w, b=b, out=y)
        args[name] = args[name][:-1]
        with pytest.raises(ValueError, match=f"conv2d: {name} holds"):
            direct.conv2d(*args.values(), *geom, False)
    for name in ("x", "gy", "dw"):
        args = dict(x=x, gy=y, dw=w)
        args[name] = args[name][:-1]
        with pytest.raises(ValueError, match=f"conv2d_weight_grad: {name} holds"):
            direct.conv2d_weight_grad(*args.values(), *geom, False)


@pytest.mark.parametrize("isa", ISAS)
def test_conv_direct_strided_entry_points_refuse_impossible_geometry(isa):
    direct = family("conv_direct", isa)
    geom, x_size, w_size, y_size = _direct_geometry()
    x, w, b, y = np.ones(x_size, F32), np.ones(w_size, F32), np.zeros(geom[4], F32), np.zeros(y_size, F32)
    huge = 1 << 32
    for index, value in ((7, 0), (8, -1), (1, 0), (11, -3), (0, -1)):  # stride 0, negative stride, no channels, ...
        bad = list(geom)
        bad[index] = value
        with pytest.raises(ValueError, match="conv2d: inconsistent shape arguments"):
            direct.conv2d(x, w, b, y, *bad, False)
        with pytest.raises(ValueError, match="conv2d_weight_grad: inconsistent shape arguments"):
            direct.conv2d_weight_grad(x, y, w, *bad, False)
    with pytest.raises(ValueError, match="conv2d: the shape arguments make x larger than any buffer"):
        direct.conv2d(x, w, b, y, huge, huge, 4, 4, 1, 2, 2, 1, 1, 0, 0, 3, 3, False)
    for index in (7, 9):  # a stride or padding no buffer offset can reach (the buffers themselves are fine)
        bad = list(geom)
        bad[index] = 1 << 40
        with pytest.raises(ValueError, match="conv2d_weight_grad: the shape arguments make the padded input larger"):
            direct.conv2d_weight_grad(x, y, w, *bad, False)


_CRASH_PROBE = """
import numpy as np, importlib
for isa in ("", "_avx2"):
    try:
        conv = importlib.import_module("torsh._kernels.conv" + isa)
    except ImportError:
        continue
    x, cols = np.zeros(24, np.float32), np.zeros(8, np.float32)
    for _ in range(2000):  # the issue's reproducer wrote past the columns and crashed thousands of ops later
        try:
            conv.im2col2d(x, cols, 2, 2, 1, 6, 2, 2, -1, -1, 1, 1, 1, 1, 3, 8, 32, 8, False)
        except ValueError:
            pass
    big = [np.ones(10, np.float32) for _ in range(200)]
for isa in ("", "_avx2"):
    try:
        cell = importlib.import_module("torsh._kernels.lstm_cell" + isa)
    except ImportError:
        continue
    w, small = np.zeros((8, 2), np.float32), np.zeros(4, np.float32)
    for op, buffers in ((cell.lstm_layer_forward, 10), (cell.lstm_layer_backward, 17)):
        for shape in ((50, 32, 2, 2), (50, 32, 1 << 40, 1 << 40), (3, -1, 2, 2)):
            try:
                op(*[small] * buffers, *shape, True, 2)
            except (ValueError, TypeError):
                pass
    try:
        cell.gemm(small, cell.pack_weight(w, 8, 2, False), small, 64, 8, 2, 64, 64, False)
    except ValueError:
        pass
for isa in ("", "_avx2"):
    try:
        direct = importlib.import_module("torsh._kernels.conv_direct" + isa)
    except ImportError:
        continue
    small = np.zeros(16, np.float32)
    for geom in ((2, 3, 7, 6, 5, 3, 2, 2, 1, 1, 2, 4, 7), (1, 1, 4, 4, 1, 3, 3, 1, 1, -9, 40, 9, 9),
                 (1, 1, 4, 4, 1, 3, 3, 1 << 40, 1, 0, 0, 2, 2)):
        for call in (lambda: direct.conv2d(small, small, small, small, *geom, True),
                     lambda: direct.conv2d_weight_grad(small, small, small, *geom, True),
                     lambda: direct.conv2d_input_grad(small, small, small, *geom, True)):
            try:
                call()
            except ValueError:
                pass
print("alive")
"""


def test_bad_calls_do_not_crash_the_interpreter():
    import torsh  # noqa: F401 - build before the subprocess imports the modules
    out = subprocess.run([sys.executable, "-c", _CRASH_PROBE], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["alive"]
