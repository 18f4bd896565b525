"""torsh.library custom operators and torsh.ops namespaces, against PyTorch's torch.library / torch.ops."""
import itertools
from typing import List, Optional, Sequence, Tuple

import numpy as np
import pytest

import torsh
from helpers import check_same_error, needs_torch, torch_ref as torch

_names = itertools.count()


def _fresh(prefix="op"):
    """A new operator name per call: the registries of both libraries live as long as the process."""
    return f"torshtest::{prefix}{next(_names)}"


def _sin_op(lib, name, with_autograd=True):
    @lib.library.custom_op(name, mutates_args=())
    def numpy_sin(x: lib.Tensor) -> lib.Tensor:
        return lib.from_numpy(np.sin(x.detach().numpy()))

    if with_autograd:
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * x.cos()
        numpy_sin.register_autograd(backward, setup_context=setup_context)
    return numpy_sin


@needs_torch
def test_custom_op_forward_and_backward_match_pytorch():
    name = _fresh("sin")
    results = {}
    for lib in (torsh, torch):
        op = _sin_op(lib, name)
        x = lib.tensor([0.1, 0.5, -1.2], dtype=lib.float64, requires_grad=True)
        y = op(x)
        (y * y).sum().backward()
        results[lib.__name__] = (y.detach().numpy(), x.grad.numpy(), type(y.grad_fn).__name__)
        namespace, short = name.split("::")
        packet = getattr(getattr(lib.ops, namespace), short)
        np.testing.assert_allclose(packet(x).detach().numpy(), y.detach().numpy())
        np.testing.assert_allclose(packet.default(x).detach().numpy(), y.detach().numpy())
        assert str(packet) == f"{namespace}.{short}" and str(packet.default) == f"{namespace}.{short}.default"
    ours, ref = results["torsh"], results["torch"]
    np.testing.assert_allclose(ours[0], ref[0])
    np.testing.assert_allclose(ours[1], ref[1])
    assert ours[2] == ref[2] == f"GeneratedBackwardFor_{name.replace('::', '_')}_defaultBackward"


@needs_torch
def test_custom_op_gradcheck_float64():
    op = _sin_op(torsh, _fresh("sin"))
    x = torsh.tensor([0.3, -0.7, 1.1], dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(op, (x,))


@needs_torch
def test_backward_without_a_registered_formula_raises_as_pytorch():
    name = _fresh("nograd")

    def run(lib):
        op = _sin_op(lib, name, with_autograd=False) if lib.__name__ not in _made else _made[lib.__name__]
        _made[lib.__name__] = op
        op(lib.ones(2, requires_grad=True)).sum().backward()
    _made = {}
    check_same_error(run)
    assert not _made["torsh"](torsh.ones(2)).requires_grad  # no grad needed: runs without a formula


@needs_torch
@pytest.mark.parametrize("call", ["too many", "not a tensor", "returns its input"])
def test_calls_are_checked_against_the_schema_as_pytorch(call):
    name = _fresh("checked")
    made = {}

    def run(lib):
        if lib.__name__ not in made:
            @lib.library.custom_op(name, mutates_args=())
            def same(x: lib.Tensor) -> lib.Tensor:
                return x if call == "returns its input" else x.clone()
            made[lib.__name__] = same
        op = made[lib.__name__]
        if call == "too many":
            op(lib.ones(2), lib.ones(2))
        elif call == "not a tensor":
            op(3)
        else:
            op(lib.ones(2))
    check_same_error(run, exact=call != "returns its input",
                     fallback_msg="The output of this custom operator (1) must not also be an input")


def _prototypes(T):
    """Annotated functions over ``T`` (one library's Tensor type)."""
    def typed(x: T, y: Optional[T], n: int, f: float, flag: bool, sizes: List[int], mode: str, many: Sequence[T],
              maybe: Optional[int] = None, k: int = 3, *, scale: float = 1.5, strict: bool = False,
              reduction: str = "mean") -> Tuple[T, T]:
        return x, x

    def mutating(x: T, out: T, more: List[T]) -> None:
        pass

    def int_result(x: T) -> "int":  # a string annotation, resolved in the function's module namespace
        return 1
    return {"typed": typed, "mutating": mutating, "int_result": int_result}


@needs_torch
@pytest.mark.parametrize("fn, mutates", [("typed", ()), ("mutating", {"out"}), ("mutating", "unknown"),
                                         ("int_result", ())], ids=["typed", "mutates-out", "unknown", "int-result"])
def test_infer_schema_matches_pytorch(fn, mutates):
    ours = torsh.library.infer_schema(_prototypes(torsh.Tensor)[fn], mutates_args=mutates)
    assert ours == torch.library.infer_schema(_prototypes(torch.Tensor)[fn], mutates_args=mutates)
    assert torsh.library.infer_schema(_prototypes(torsh.Tensor)[fn], mutates_args=mutates, op_name="foo") == \
        "foo" + ours


@needs_torch
@pytest.mark.parametrize("case", ["no annotation", "unknown mutated name", "bad mutates string", "dict type",
                                  "tuple default"])
def test_infer_schema_errors_match_pytorch(case):
    def run(lib):
        T = lib.Tensor
        if case == "no annotation":
            lib.library.infer_schema(lambda x: x, mutates_args=())

        def one(x: T) -> T:
            return x
        if case == "unknown mutated name":
            lib.library.infer_schema(one, mutates_args=("y",))
        if case == "bad mutates string":
            lib.library.infer_schema(one, mutates_args="bogus")

        def dict_arg(x: dict) -> T:
            return x
        if case == "dict type":
            lib.library.infer_schema(dict_arg, mutates_args=())

        def tuple_default(x: T, sizes: Sequence[int] = (1,)) -> T:
            return x
        lib.library.infer_schema(tuple_default, mutates_args=())
    check_same_error(run, exact=False, fallback_msg={
        "no annotation": "Parameter x must have a type annotation.",
        "unknown mutated name": "{'y'} in mutates_args were not found in the custom op's signature.",
        "bad mutates string": "mutates_args must either be a sequence of the names",
        "dict type": "Parameter x has unsupported type <class 'dict'>.",
        "tuple default": "Parameter sizes has an unsupported default value type <class 'tuple'>."}[case])


@needs_torch
def test_mutating_custom_op_writes_its_argument():
    name = _fresh("add_")
    for lib in (torsh, torch):
        @lib.library.custom_op(name, mutates_args={"x"})
        def add_(x: lib.Tensor, y: lib.Tensor) -> None:
            x.add_(y)
        a = lib.zeros(3)
        assert add_(a, lib.ones(3)) is None
        assert a.tolist() == [1.0, 1.0, 1.0]


@needs_torch
def test_library_define_and_impl_as_pytorch():
    namespace = f"torshtestlib{next(_names)}"
    for lib in (torsh, torch):
        library = lib.library.Library(namespace, "DEF")
        library.define("scaled(Tensor x, float alpha=2.0) -> Tensor")
        library.impl("scaled", lambda x, alpha=2.0: x * alpha, "CPU")
        op = getattr(getattr(lib.ops, namespace), "scaled")
        assert op(lib.ones(2)).tolist() == [2.0, 2.0]
        assert op(lib.ones(2), alpha=3.0).tolist() == [3.0, 3.0]
        assert op.default(lib.ones(2), 0.5).tolist() == [0.5, 0.5]


@needs_torch
def test_register_fake_and_kernel_return_the_function():
    op = _sin_op(torsh, _fresh("sin"))

    @op.register_fake
    def _(x):
        return torsh.empty_like(x)
    assert op._fake_fn is _

    @op.register_kernel("cpu")
    def kernel(x):
        return x.sin() * 2
    np.testing.assert_allclose(op(torsh.tensor([0.5])).numpy(), 2 * np.sin([0.5]), rtol=1e-6)


@needs_torch
def test_aten_ops_resolve_through_the_registry():
    a, b = np.array([1.0, -2.0, 3.0], np.float32), np.array([0.5, 0.5, 0.5], np.float32)
    for name, overload, args in [("add", "Tensor", (a, b)), ("relu", "default", (a,)), ("mul", "Tensor", (a, b)),
                                 ("linalg_vector_norm", "default", (a,)), ("softmax", "int", (a, 0))]:
        ours = getattr(getattr(torsh.ops.aten, name), overload)(
            *[torsh.from_numpy(x) if isinstance(x, np.ndarray) else x for x in args])
        ref = getattr(getattr(torch.ops.aten, name), overload)(
            *[torch.from_numpy(x) if isinstance(x, np.ndarray) else x for x in args])
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6, err_msg=name)
    assert str(torsh.ops.aten.add.Tensor) == str(torch.ops.aten.add.Tensor) == "aten.add.Tensor"
    check_same_error(lambda lib: lib.ops.aten.relu.nope)
    check_same_error(lambda lib: lib.ops.torshtest_empty_namespace.nothing)


def test_custom_op_name_needs_a_namespace():
    def f(x: torsh.Tensor) -> torsh.Tensor:
        return x.clone()
    with pytest.raises(ValueError, match="namespace"):
        torsh.library.custom_op("nonamespace", mutates_args=())(f)
    with pytest.raises(TypeError, match="mutates_args"):
        torsh.library.custom_op("a::b")(f)


def test_types_aliases():
    from torsh import types
    assert types.Number == (int | float | bool) or set(types.Number.__args__) == {int, float, bool}
    assert isinstance(3, types._Number) and not isinstance("3", types._Number)
    assert types.SymInt is torsh.SymInt and not isinstance(3, types.SymInt)  # as torch.types.SymInt
    assert types._dtype is torsh.dtype and types._device is torsh.device
