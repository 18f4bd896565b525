"""nn.functional against PyTorch: softmax, activations, dropout in eval, layer_norm, embedding, losses,
conv1d/conv2d, pooling, pad and interpolate, with geometry that is valid or (sometimes) not.

These dispatch to compiled kernels (conv, pool, norm, softmax, cross_entropy, embedding), so the
torsh side runs in the worker subprocess: a crash fails the case instead of the run.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from .case import Call, DType, TensorSpec
from .compare import check
from .profiles import examples
from .strategies import FLOAT_DTYPES, dims, shapes, tensors

FLOATS = FLOAT_DTYPES + FLOAT_DTYPES + ("int64", "complex64")  # mostly floats; others test rejection
ACTIVATIONS = ("relu", "relu6", "gelu", "silu", "elu", "selu", "celu", "leaky_relu", "hardtanh", "softplus", "mish",
               "hardswish", "hardsigmoid", "logsigmoid", "softsign", "tanhshrink", "sigmoid", "tanh")
IN_PLACE = ("relu", "relu6", "elu", "selu", "celu", "leaky_relu", "hardtanh", "silu", "mish", "hardswish",
            "hardsigmoid")


@pytest.mark.parametrize("op", ("softmax", "log_softmax"))
@examples(30)
@given(data=st.data())
def test_softmax(op, data, worker):
    x = data.draw(tensors(dtypes=FLOATS, large=True), label="x")
    kwargs = {"dim": data.draw(dims(len(x.shape)), label="dim")}
    if data.draw(st.integers(0, 3)) == 0:
        kwargs["dtype"] = DType(data.draw(st.sampled_from(("float32", "float64", "float16"))))
    check(Call(f"F.{op}", (x,), kwargs), worker)


@pytest.mark.parametrize("op", ACTIVATIONS)
@examples(10)
@given(data=st.data())
def test_activation(op, data, worker):
    x = data.draw(tensors(dtypes=FLOATS, large=True), label="x")
    kwargs = {}
    if op in IN_PLACE and data.draw(st.integers(0, 4)) == 0:
        kwargs["inplace"] = True
    if op == "gelu":
        kwargs["approximate"] = data.draw(st.sampled_from(("none", "tanh")))
    check(Call(f"F.{op}", (x,), kwargs), worker)


@examples(20)
@given(data=st.data())
def test_dropout_eval(data, worker):
    x = data.draw(tensors(dtypes=FLOATS), label="x")
    p = data.draw(st.sampled_from((0.0, 0.5, 1.0, -0.1, 1.5)), label="p")
    check(Call("F.dropout", (x,), {"p": p, "training": False}), worker)


@examples(40)
@given(data=st.data())
def test_layer_norm(data, worker):
    x = data.draw(tensors(dtypes=FLOATS, min_dims=1), label="x")
    k = data.draw(st.integers(1, len(x.shape)), label="n_normalized")
    normalized = x.shape[-k:] if data.draw(st.integers(0, 5)) else tuple(s + 1 for s in x.shape[-k:])
    affine = data.draw(st.booleans())
    weight = data.draw(tensors(dtypes=(x.dtype,), shape=normalized), label="weight") if affine else None
    bias = data.draw(tensors(dtypes=(x.dtype,), shape=normalized), label="bias") if affine else None
    eps = data.draw(st.sampled_from((1e-5, 1e-3, 0.0)))
    check(Call("F.layer_norm", (x, normalized, weight, bias, eps), tol_scale=4.0), worker)


def int_tensor(shape, low, high, dtype="int64"):
    n = int(np.prod(shape))
    return st.lists(st.integers(low, high), min_size=n, max_size=n).map(
        lambda v: TensorSpec(np.asarray(v, dtype=np.int64).reshape(shape).astype(dtype), dtype))


@examples(40)
@given(data=st.data())
def test_embedding(data, worker):
    weight = data.draw(tensors(dtypes=FLOATS, shape=st.tuples(st.integers(1, 5), st.integers(0, 3))), label="weight")
    n = weight.shape[0]
    index = data.draw(int_tensor(data.draw(shapes(max_dims=2)), -1, n, data.draw(st.sampled_from(
        ("int64", "int64", "int32", "float32")))), label="index")
    kwargs = {}
    if data.draw(st.booleans()):
        kwargs["padding_idx"] = data.draw(st.integers(-n - 1, n), label="padding_idx")
    check(Call("F.embedding", (index, weight), kwargs), worker)


@examples(50)
@given(data=st.data())
def test_cross_entropy(data, worker):
    n, c = data.draw(st.sampled_from((1, 2, 3, 0))), data.draw(st.sampled_from((1, 2, 4)))
    extra = data.draw(st.sampled_from(((), (), (2,), (2, 3))))
    batched = data.draw(st.integers(0, 4)) != 0
    x_shape = (n, c) + extra if batched else (c,)
    x = data.draw(tensors(dtypes=FLOATS, shape=x_shape), label="input")
    t_shape = ((n,) + extra if batched else ())
    probabilities = data.draw(st.integers(0, 3)) == 0
    if probabilities:
        target = data.draw(tensors(dtypes=(x.dtype,), shape=x_shape, low=0, high=1, specials=False), label="target")
    else:
        target = data.draw(int_tensor(t_shape, -1, c, data.draw(st.sampled_from(("int64", "int64", "int32")))),
                           label="target")
    kwargs = {"reduction": data.draw(st.sampled_from(("mean", "sum", "none")))}
    if data.draw(st.booleans()):
        kwargs["label_smoothing"] = data.draw(st.sampled_from((0.0, 0.1, 1.0)))
    if data.draw(st.booleans()):
        kwargs["ignore_index"] = data.draw(st.sampled_from((-1, 0, -100)))
    if data.draw(st.integers(0, 3)) == 0:
        kwargs["weight"] = data.draw(tensors(dtypes=(x.dtype,), shape=(c,), low=0, high=2, specials=False))
    check(Call("F.cross_entropy", (x, target), kwargs, tol_scale=4.0), worker)


@examples(40)
@given(data=st.data())
def test_nll_loss(data, worker):
    n, c = data.draw(st.sampled_from((1, 2, 3, 0))), data.draw(st.sampled_from((1, 2, 4)))
    extra = data.draw(st.sampled_from(((), (), (2,))))
    x = data.draw(tensors(dtypes=FLOATS, shape=(n, c) + extra), label="input")
    target = data.draw(int_tensor((n,) + extra, -1, c), label="target")
    kwargs = {"reduction": data.draw(st.sampled_from(("mean", "sum", "none")))}
    if data.draw(st.booleans()):
        kwargs["ignore_index"] = data.draw(st.sampled_from((-1, 0)))
    check(Call("F.nll_loss", (x, target), kwargs, tol_scale=4.0), worker)


@examples(30)
@given(data=st.data())
def test_mse_loss(data, worker):
    from .strategies import broadcast_shape
    a = data.draw(tensors(dtypes=FLOATS), label="input")
    b = data.draw(tensors(dtypes=(a.dtype, a.dtype, "float64"), shape=broadcast_shape(a.shape)), label="target")
    check(Call("F.mse_loss", (a, b), {"reduction": data.draw(st.sampled_from(("mean", "sum", "none")))},
               tol_scale=4.0), worker)


# -- convolution, pooling, padding, resizing --------------------------------------------------------------
def geometry(spatial):
    """(stride, padding, dilation) drawn mostly valid; zero or negative values now and then."""
    small = st.sampled_from((1, 1, 2, 3, 0, -1))
    as_arg = st.one_of(small, st.tuples(*[small] * spatial))
    return as_arg


@pytest.mark.parametrize("spatial", (1, 2))
@examples(40)
@given(data=st.data())
def test_conv(spatial, data, worker):
    groups = data.draw(st.sampled_from((1, 1, 2, 3)), label="groups")
    cin = groups * data.draw(st.integers(1, 2))
    cout = groups * data.draw(st.integers(1, 2))
    batch = data.draw(st.sampled_from(((1,), (2,), (0,), ())), label="batch")
    size = tuple(data.draw(st.integers(1, 6)) for _ in range(spatial))
    x = data.draw(tensors(dtypes=("float32", "float32", "float64", "float16", "bfloat16", "int64"),
                          shape=batch + (cin,) + size), label="input")
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(spatial))
    w_in = cin // groups if data.draw(st.integers(0, 7)) else cin + 1
    w = data.draw(tensors(dtypes=(x.dtype,), shape=(cout, w_in) + kernel), label="weight")
    bias = data.draw(st.one_of(st.none(), tensors(dtypes=(x.dtype,), shape=(cout,))), label="bias")
    kwargs = {"stride": data.draw(geometry(spatial).filter(lambda v: v != 0 or True), label="stride"),
              "padding": data.draw(st.one_of(geometry(spatial), st.sampled_from(("same", "valid"))), label="padding"),
              "dilation": data.draw(geometry(spatial), label="dilation"), "groups": groups}
    check(Call(f"F.conv{spatial}d", (x, w, bias), kwargs, tol_scale=4.0), worker)


@pytest.mark.parametrize("op", ("max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d"))
@examples(25)
@given(data=st.data())
def test_pool(op, data, worker):
    spatial = int(op[-2])
    batch = data.draw(st.sampled_from(((1, 2), (2,), (0, 1), (1, 0))), label="leading")
    size = tuple(data.draw(st.integers(1, 6)) for _ in range(spatial))
    x = data.draw(tensors(dtypes=FLOATS, shape=batch + size), label="input")
    kernel = data.draw(st.one_of(st.integers(1, 3), st.tuples(*[st.integers(0, 3)] * spatial)), label="kernel")
    kwargs = {"stride": data.draw(st.one_of(st.none(), geometry(spatial)), label="stride"),
              "padding": data.draw(st.sampled_from((0, 0, 1, 2)), label="padding"),
              "ceil_mode": data.draw(st.booleans())}
    if op.startswith("max"):
        kwargs["dilation"] = data.draw(st.sampled_from((1, 1, 2)))
    else:
        kwargs["count_include_pad"] = data.draw(st.booleans())
    check(Call(f"F.{op}", (x, kernel), kwargs), worker)


@examples(50)
@given(data=st.data())
def test_pad(data, worker):
    mode = data.draw(st.sampled_from(("constant", "constant", "reflect", "replicate", "circular")), label="mode")
    x = data.draw(tensors(dtypes=FLOATS + ("int64", "bool"), shape=shapes(min_dims=1, max_dims=4)), label="input")
    n_pairs = data.draw(st.integers(1, min(3, len(x.shape))), label="pairs")
    pad = tuple(data.draw(st.lists(st.integers(-2, 3), min_size=2 * n_pairs, max_size=2 * n_pairs)))
    kwargs = {"mode": mode}
    if mode == "constant" and data.draw(st.booleans()):
        kwargs["value"] = data.draw(st.sampled_from((0.0, 1.5, -2, float("nan"))))
    check(Call("F.pad", (x, pad), kwargs), worker)


@examples(50)
@given(data=st.data())
def test_interpolate(data, worker):
    mode = data.draw(st.sampled_from(("nearest", "nearest-exact", "linear", "bilinear", "bicubic")), label="mode")
    spatial = data.draw(st.sampled_from((1, 2)), label="spatial")
    shape = (data.draw(st.sampled_from((1, 2, 0))), data.draw(st.integers(1, 2))) + tuple(
        data.draw(st.integers(1, 5)) for _ in range(spatial))
    x = data.draw(tensors(dtypes=("float32", "float32", "float64", "float16", "int64"), shape=shape), label="input")
    kwargs = {"mode": mode}
    if data.draw(st.booleans()):
        kwargs["size"] = data.draw(st.one_of(st.integers(0, 7), st.tuples(*[st.integers(1, 7)] * spatial)))
    else:
        kwargs["scale_factor"] = data.draw(st.one_of(st.sampled_from((0.5, 1.0, 2.0, 1.7, 3.0)),
                                                     st.tuples(*[st.sampled_from((0.5, 2.0, 1.5))] * spatial)))
    if mode in ("linear", "bilinear", "bicubic") and data.draw(st.booleans()):
        kwargs["align_corners"] = data.draw(st.booleans())
    check(Call("F.interpolate", (x,), kwargs, tol_scale=4.0), worker)
