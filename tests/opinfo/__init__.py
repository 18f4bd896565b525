"""OpInfo-style machinery for the op-surface tables (tests/test_ops_*.py).

An ``Op`` names a function ``fn(lib, *tensors, **kwargs)`` run once with ``lib=torsh`` and once
with ``lib=torch`` (the reference), and a list of ``Sample`` inputs. Keyword values wrapped in
``L(...)`` are built per library (``L(lambda lib: lib.tensor([0, 2]))``) so index tensors and
generators are real tensors of each library. ``make_tests(OPS)`` returns the three table tests:

* forward   -- values, dtype and shape for every dtype the op lists;
* backward  -- gradients of a random-weighted sum of the outputs, against torch (float64);
* gradcheck -- ``torsh.autograd.gradcheck`` in float64 (samples with an empty input are left out:
  finite differences need an element).
"""
import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import pytest

import torsh
from helpers import (INT_DTYPES, assert_close, assert_same_structure_close, float_outputs, from_array, make_array,
                     torch_ref, weighted_sum)


class L:
    """A keyword value built per library: ``L(lambda lib: lib.tensor([0, 1]))``."""

    def __init__(self, build):
        self.build = build

    def __repr__(self):
        return "L"


@dataclass
class Sample:
    shapes: tuple
    kwargs: dict = field(default_factory=dict)
    prep: object = None  # callable, or tuple of callables (one per tensor argument)
    name: str = ""

    def prep_for(self, k):
        p = self.prep[k] if isinstance(self.prep, tuple) else self.prep
        return p or (lambda t: t)

    def kwargs_for(self, lib):
        return {k: (v.build(lib) if isinstance(v, L) else v) for k, v in self.kwargs.items()}

    @property
    def id(self):
        if self.name:
            return self.name
        shapes = "_".join("x".join(map(str, s)) or "0d" for s in self.shapes)
        kw = ",".join(f"{k}={v}" for k, v in self.kwargs.items() if not callable(v) and not isinstance(v, L))
        return shapes + (f"[{kw}]" if kw else "")


def S(*shapes, prep=None, name="", **kwargs):
    return Sample(shapes, kwargs, prep, name)


@dataclass
class Op:
    name: str
    fn: Callable  # fn(lib, *tensors, **kwargs)
    samples: list
    dtypes: tuple = ("float32", "float64")
    domain: object = (-2.0, 2.0)  # (low, high) or a list of them, one per tensor argument
    differentiable: bool = True
    rounded: bool = False  # round float inputs to integers (ties, exact equality)
    gradcheck: bool = True
    rtol: Optional[float] = None
    atol: Optional[float] = None
    grad_args: Optional[tuple] = None  # indices of the tensor arguments that require grad (default: floats)
    torch_grad: bool = True  # False where torch's own backward fails: only gradcheck checks the gradient

    def domain_for(self, k):
        return self.domain[k] if isinstance(self.domain, list) else self.domain


def make_inputs(op, sample, dtype, seed=0):
    arrays = []
    for k, shape in enumerate(sample.shapes):
        low, high = op.domain_for(k)
        if dtype in INT_DTYPES or dtype == "bool":
            low, high = math.ceil(low), math.floor(high)
        arr = make_array(shape, dtype, low, high, seed=seed + 11 * k)
        if op.rounded and arr.dtype.kind == "f":
            arr = np.round(arr)
        arrays.append(arr)
    return arrays


def run(lib, op, sample, arrays, dtype, requires_grad=False):
    """(leaf tensors, output) of ``op`` on ``arrays`` in library ``lib``."""
    leaves = []
    for k, a in enumerate(arrays):
        wants = requires_grad and (op.grad_args is None or k in op.grad_args)
        leaves.append(from_array(lib, a, dtype, wants))
    args = [sample.prep_for(k)(t) for k, t in enumerate(leaves)]
    return leaves, op.fn(lib, *args, **sample.kwargs_for(lib))


def _differentiable_outputs(out):
    outs = float_outputs(out)
    return outs[0] if len(outs) == 1 else outs


def count_samples(ops):
    return sum(len(op.samples) for op in ops)


def make_tests(ops):
    """The forward / backward / gradcheck tests over ``ops`` (assign them to test_* names)."""
    names = [op.name for op in ops]
    assert len(names) == len(set(names)), f"duplicate op names: {[n for n in names if names.count(n) > 1]}"

    forward_cases = [pytest.param(op, s, dt, id=f"{op.name}-{s.id}-{dt}")
                     for op in ops for s in op.samples for dt in op.dtypes]
    backward_cases = [pytest.param(op, s, id=f"{op.name}-{s.id}")
                      for op in ops if op.differentiable and op.torch_grad for s in op.samples]
    gradcheck_cases = [pytest.param(op, s, id=f"{op.name}-{s.id}")
                       for op in ops if op.differentiable and op.gradcheck for s in op.samples
                       if not any(0 in shape for shape in s.shapes)]

    @pytest.mark.parametrize("op,sample,dtype", forward_cases)
    def test_forward(op, sample, dtype):
        arrays = make_inputs(op, sample, dtype)
        _, ours = run(torsh, op, sample, arrays, dtype)
        _, ref = run(torch_ref, op, sample, arrays, dtype)
        assert_same_structure_close(ours, ref, rtol=op.rtol, atol=op.atol)

    @pytest.mark.parametrize("op,sample", backward_cases)
    def test_backward(op, sample):
        arrays = make_inputs(op, sample, "float64")
        leaves, out = run(torsh, op, sample, arrays, "float64", requires_grad=True)
        ref_leaves, ref_out = run(torch_ref, op, sample, arrays, "float64", requires_grad=True)
        ref_total = weighted_sum(torch_ref, ref_out)
        if ref_total is None or not ref_total.requires_grad:
            pytest.fail("table error: torch's output does not require grad; mark the op differentiable=False")
        for o, r in zip(float_outputs(out), float_outputs(ref_out)):
            assert o.requires_grad == r.requires_grad, "requires_grad of an output differs from torch"
        weighted_sum(torsh, out).backward()
        ref_total.backward()
        for k, (ours, ref) in enumerate(zip(leaves, ref_leaves)):
            if ref.grad is None:
                assert ours.grad is None or not ours.grad.abs().sum().item(), f"input {k}: torch gives no grad"
                continue
            assert ours.grad is not None, f"input {k}: no grad"
            assert_close(ours.grad, ref.grad, rtol=op.rtol or 1e-6, atol=op.atol or 1e-7, msg=f"grad of input {k}: ")

    @pytest.mark.parametrize("op,sample", gradcheck_cases)
    def test_gradcheck(op, sample):
        arrays = make_inputs(op, sample, "float64")
        inputs = tuple(from_array(torsh, a, "float64", requires_grad=op.grad_args is None or k in op.grad_args)
                       for k, a in enumerate(arrays))
        kwargs = sample.kwargs_for(torsh)

        def fn(*xs):
            return _differentiable_outputs(op.fn(torsh, *[sample.prep_for(k)(x) for k, x in enumerate(xs)], **kwargs))

        assert torsh.autograd.gradcheck(fn, inputs) is True

    return test_forward, test_backward, test_gradcheck


# -- common sample sets --------------------------------------------------------------------------
T = lambda t: t.transpose(0, 1)  # noqa: E731  (4,3) -> (3,4), non-contiguous
STRIDED = lambda t: t[::2, 1:]  # noqa: E731  (6,5) -> (3,4), non-contiguous
MT = lambda t: t.mT  # noqa: E731

UNARY = [
    S((3, 4)),
    S((), name="0d"),
    S((0,), name="empty"),
    S((0, 3), name="empty2d"),
    S((4, 3), prep=T, name="transposed"),
    S((6, 5), prep=STRIDED, name="strided"),
]

BINARY = [
    S((3, 4), (3, 4)),
    S((), (), name="0d_0d"),
    S((3, 4), (), name="tensor_0d"),
    S((), (2, 3), name="0d_tensor"),
    S((3, 1), (1, 4), name="broadcast_both"),
    S((2, 3, 4), (4,), name="broadcast_rank"),
    S((0, 3), (3,), name="empty"),
    S((4, 3), (4, 3), prep=T, name="transposed"),
    S((6, 5), (3, 4), prep=(STRIDED, None), name="strided"),
]

FLOATS = ("float32", "float64")
FLOATS_AND_INTS = ("float32", "float64", "int64", "int32")
POSITIVE = (0.5, 2.0)


def tensor_of(values, dtype="int64"):
    """An L building ``lib.tensor(values)`` (index tensors and the like)."""
    return L(lambda lib: lib.tensor(values, dtype=getattr(lib, dtype)))
