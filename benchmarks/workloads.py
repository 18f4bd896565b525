"""Benchmark workloads: one small setup function per table row, registered in WORKLOADS.

A setup receives ``lib`` (the torsh, torch or numpy module), builds its inputs from the same
NumPy data for every library, and returns the zero-argument callable that gets timed. Most
workloads are written once for all three: torsh promises to run PyTorch code unchanged, and
NumPy shares the simple operators. Where NumPy lacks something (sigmoid, autograd) the setup
writes the NumPy equivalent by hand and says so in the row's name.

Later issues add their rows here with the same decorator: W3 matmul, W4 conv2d, W5 an MLP
training step, ...
"""
import functools
from typing import Callable, NamedTuple

import numpy as np


class Workload(NamedTuple):
    key: str                    # group in the issue tracker's numbering: "W1", "W2", ...
    name: str                   # what the row measures
    setup: Callable             # lib -> callable to time
    full_only: bool = False     # too slow for the default run; needs --full


WORKLOADS = []


def workload(key, name, full_only=False, **params):
    """Register the decorated ``setup(lib, **params)`` as one table row."""
    def register(setup):
        WORKLOADS.append(Workload(key, name, functools.partial(setup, **params), full_only))
        return setup
    return register


def float32_data(numel, seed=0):
    return np.random.default_rng(seed).standard_normal(numel, dtype=np.float32)


def as_lib(lib, array, requires_grad=False):
    """``array`` as ``lib``'s array type; tensors get their own copy of the data."""
    if lib is np:
        return array
    return lib.from_numpy(array.copy()).requires_grad_(requires_grad)


# -- W1: per-op overhead (tiny tensors: the time is all Python, dispatch and bookkeeping) -----
@workload("W1", "add, 1 element f32")
def add_one_element(lib):
    a, b = as_lib(lib, float32_data(1, seed=1)), as_lib(lib, float32_data(1, seed=2))
    return lambda: a + b


@workload("W1", "(x*2).sin().sum().backward(), x(100) [NumPy: gradient by hand]")
def small_forward_backward(lib):
    x = as_lib(lib, float32_data(100), requires_grad=True)
    if lib is np:  # no autograd: forward plus the hand-derived gradient, the floor for autograd
        return lambda: (np.sin(x * 2).sum(), 2 * np.cos(x * 2))

    def step():
        x.grad = None
        (x * 2).sin().sum().backward()
    return step


# -- W2: elementwise throughput (large tensors: the time is the kernel) ----------------------
# decorators apply bottom-up, so the rows appear as 1e3, 1e6, 1e7
@workload("W2", "add, 1e7 elements f32", full_only=True, numel=10**7)
@workload("W2", "add, 1e6 elements f32", numel=10**6)
@workload("W2", "add, 1e3 elements f32", numel=10**3)
def add_elementwise(lib, numel):
    a, b = as_lib(lib, float32_data(numel, seed=1)), as_lib(lib, float32_data(numel, seed=2))
    return lambda: a + b


@workload("W2", "sigmoid, 1e6 elements f32 [NumPy: 1/(1+exp(-x))]")
def sigmoid_1e6(lib):
    x = as_lib(lib, float32_data(10**6))
    if lib is np:
        return lambda: 1.0 / (1.0 + np.exp(-x))
    return lambda: lib.sigmoid(x)


@workload("W2", "tanh, 1e6 elements f32")
def tanh_1e6(lib):
    x = as_lib(lib, float32_data(10**6))
    return lambda: lib.tanh(x)


# -- W3: a fused elementwise chain (torsh.compile vs PyTorch eager vs NumPy temporaries) -----
def _chain(lib, x):
    return lib.tanh(x * 0.5 + 1) * lib.sigmoid(x) - x * x


@workload("W3", "tanh(x*0.5+1)*sigmoid(x) - x*x, 1e7 f32 [torsh.compile]", full_only=True, numel=10**7)
@workload("W3", "tanh(x*0.5+1)*sigmoid(x) - x*x, 1e6 f32 [torsh.compile]", numel=10**6)
def fused_chain(lib, numel):
    x = as_lib(lib, float32_data(numel))
    if lib is np:
        half, one = np.float32(0.5), np.float32(1)
        return lambda: np.tanh(x * half + one) * (one / (one + np.exp(-x))) - x * x
    if lib.__name__ == "torsh":
        compiled = lib.compile(lambda t: _chain(lib, t))
        return lambda: compiled(x)
    return lambda: _chain(lib, x)


@workload("W3", "same chain, forward + backward, 1e6 f32 [torsh.compile]", numel=10**6)
def fused_chain_backward(lib, numel):
    if lib is np:
        return None  # no autograd in NumPy
    x = as_lib(lib, float32_data(numel), requires_grad=True)
    fn = lib.compile(lambda t: _chain(lib, t)) if lib.__name__ == "torsh" else (lambda t: _chain(lib, t))

    def step():
        x.grad = None
        fn(x).sum().backward()
    return step
