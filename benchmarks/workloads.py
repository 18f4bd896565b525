"""Benchmark workloads: one small setup function per table row, registered in WORKLOADS.

A setup receives ``lib`` (the torsh, torch or numpy module), builds its inputs from the same
NumPy data for every library, and returns the zero-argument callable that gets timed. Most
workloads are written once for all three: torsh promises to run PyTorch code unchanged, and
NumPy shares the simple operators. Where NumPy lacks something (sigmoid, autograd) the setup
writes the NumPy equivalent by hand and says so in the row's name.

Models are written once too: a builder takes the library module (torsh is imported the way
a user would import torch) and returns the same architecture for both. Each row may carry
``work`` (FLOPs or bytes per call, giving GFLOP/s or GB/s) and a ``target``: the torsh/PyTorch
time ratio it should stay under (issue 6), or for W2 the factor to the copy bandwidth.
"""
import functools
from typing import Callable, NamedTuple

import numpy as np


class Workload(NamedTuple):
    key: str                    # group in the issue tracker's numbering: "W1", "W2", ...
    name: str                   # what the row measures
    setup: Callable             # lib -> callable to time
    full_only: bool = False     # too slow for the default run; needs --full
    work: float = None          # FLOPs (unit "GFLOP/s") or bytes moved (unit "GB/s") per call
    unit: str = None
    target: float = None        # torsh/PyTorch time ratio to stay under (None: no target)
    copy_target: float = None   # W2: torsh's GB/s within this factor of the copy bandwidth


WORKLOADS = []

TARGETS = {"W1": 1.5, "W3": 0.7, "W4": 1.1, "W5": 1.5, "W6": 1.0, "W7": 1.5, "W8": 1.5, "W9": 1.0, "W10": 0.7}


def workload(key, name, full_only=False, work=None, unit=None, copy_target=None, **params):
    """Register the decorated ``setup(lib, **params)`` as one table row."""
    def register(setup):
        WORKLOADS.append(Workload(key, name, functools.partial(setup, **params), full_only, work, unit,
                                  TARGETS.get(key), copy_target))
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
# decorators apply bottom-up, so the rows appear as 1e3, 1e6, 1e7; GB/s counts 2 reads + 1 write
@workload("W2", "add, 1e7 elements f32", full_only=True, numel=10**7, work=12e7, unit="GB/s", copy_target=1.2)
@workload("W2", "add, 1e6 elements f32", numel=10**6, work=12e6, unit="GB/s", copy_target=1.2)
@workload("W2", "add, 1e3 elements f32", numel=10**3)
def add_elementwise(lib, numel):
    a, b = as_lib(lib, float32_data(numel, seed=1)), as_lib(lib, float32_data(numel, seed=2))
    return lambda: a + b


# the machine's copy bandwidth at the same sizes (1 read + 1 write): what an add can hope for
@workload("W2", "copy, 1e7 f32 [dst.copy_(src); NumPy: np.copyto]", full_only=True, numel=10**7, work=8e7,
          unit="GB/s")
@workload("W2", "copy, 1e6 f32 [dst.copy_(src); NumPy: np.copyto]", numel=10**6, work=8e6, unit="GB/s")
def copy_bandwidth(lib, numel):
    src, dst = as_lib(lib, float32_data(numel, seed=1)), as_lib(lib, float32_data(numel, seed=2))
    if lib is np:
        return lambda: np.copyto(dst, src)
    return lambda: dst.copy_(src)


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


# torsh's fused kernel is generated and compiled by Pythran on the first call (~15-30 s, then
# cached on disk by hash); the setup call below pays that before timing starts
@workload("W3", "tanh(x*0.5+1)*sigmoid(x) - x*x, 1e7 f32 [torsh.compile, pythran]", full_only=True, numel=10**7)
@workload("W3", "tanh(x*0.5+1)*sigmoid(x) - x*x, 1e6 f32 [torsh.compile, pythran]", numel=10**6)
@workload("W3", "same chain, 1e6 f32 [torsh.compile, numexpr]", numel=10**6, backend="numexpr")
def fused_chain(lib, numel, backend="pythran"):
    x = as_lib(lib, float32_data(numel))
    if lib is np:
        half, one = np.float32(0.5), np.float32(1)
        return lambda: np.tanh(x * half + one) * (one / (one + np.exp(-x))) - x * x
    if lib.__name__ == "torsh":
        compiled = lib.compile(lambda t: _chain(lib, t), backend=backend)
        compiled(x)  # compiles (or loads from the cache) before timing
        return lambda: compiled(x)
    return lambda: _chain(lib, x)


@workload("W3", "same chain, forward + backward, 1e6 f32 [torsh.compile, pythran]", numel=10**6)
def fused_chain_backward(lib, numel):
    if lib is np:
        return None  # no autograd in NumPy
    x = as_lib(lib, float32_data(numel), requires_grad=True)
    fn = lib.compile(lambda t: _chain(lib, t), backend="pythran") if lib.__name__ == "torsh" \
        else (lambda t: _chain(lib, t))

    def step():
        x.grad = None
        fn(x).sum().backward()
    return step


# -- W4: matmul (BLAS underneath for all three; the ratio is the wrapper's cost) --------------
@workload("W4", "matmul 2048x2048 f32", n=2048, work=2 * 2048**3, unit="GFLOP/s")
@workload("W4", "matmul 1024x1024 f32", n=1024, work=2 * 1024**3, unit="GFLOP/s")
@workload("W4", "matmul 256x256 f32", n=256, work=2 * 256**3, unit="GFLOP/s")
def matmul_square(lib, n):
    a, b = as_lib(lib, float32_data(n * n, seed=1).reshape(n, n)), as_lib(lib, float32_data(n * n, seed=2).reshape(n, n))
    return lambda: a @ b


# -- models, written once for torsh and torch ---------------------------------------------
def is_numpy(lib):
    return lib is np


def seeded(lib, build):
    lib.manual_seed(0)
    return build()


def training_step(lib, model, optimizer, x, target, loss_fn):
    """One step: zero_grad, forward, loss, backward, optimizer.step."""
    def step():
        optimizer.zero_grad()
        loss_fn(model(x), target).backward()
        optimizer.step()
    return step


def class_targets(lib, n, classes, seed=3):
    return lib.from_numpy(np.random.default_rng(seed).integers(0, classes, n))


# -- W5: conv2d 32x3x32x32 -> 64 channels, 3x3, padding 1 ------------------------------------
CONV_FLOPS = 2 * 32 * 64 * 32 * 32 * 3 * 3 * 3


@workload("W5", "conv2d 32x3x32x32 -> 64, 3x3, pad 1: forward (no_grad)", work=CONV_FLOPS, unit="GFLOP/s")
def conv2d_forward(lib):
    if is_numpy(lib):
        return None
    conv = seeded(lib, lambda: lib.nn.Conv2d(3, 64, 3, padding=1))
    x = as_lib(lib, float32_data(32 * 3 * 32 * 32).reshape(32, 3, 32, 32))

    def forward():
        with lib.no_grad():
            conv(x)
    return forward


@workload("W5", "conv2d same: forward + backward (weight, bias grads)", work=3 * CONV_FLOPS, unit="GFLOP/s")
def conv2d_forward_backward(lib):
    if is_numpy(lib):
        return None
    conv = seeded(lib, lambda: lib.nn.Conv2d(3, 64, 3, padding=1))
    x = as_lib(lib, float32_data(32 * 3 * 32 * 32).reshape(32, 3, 32, 32))

    def step():
        conv.zero_grad()
        conv(x).sum().backward()
    return step


# -- W6: MLP 784-512-256-10, batch 128 ---------------------------------------------------------
def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))


@workload("W6", "MLP 784-512-256-10 training step, batch 128, Adam", optimizer="adam")
@workload("W6", "MLP 784-512-256-10 training step, batch 128, SGD momentum 0.9", optimizer="sgd")
def mlp_step(lib, optimizer):
    if is_numpy(lib):
        return None
    model = seeded(lib, lambda: mlp(lib))
    opt = (lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if optimizer == "sgd"
           else lib.optim.Adam(model.parameters(), lr=1e-3))
    x = as_lib(lib, float32_data(128 * 784).reshape(128, 784))
    return training_step(lib, model, opt, x, class_targets(lib, 128, 10), lib.nn.functional.cross_entropy)


# -- W7: LeNet-5, batch 64, 1x28x28 ------------------------------------------------------------
def lenet5(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


@workload("W7", "LeNet-5 training step, batch 64, 1x28x28, SGD momentum 0.9")
def lenet_step(lib):
    if is_numpy(lib):
        return None
    model = seeded(lib, lambda: lenet5(lib))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = as_lib(lib, float32_data(64 * 28 * 28).reshape(64, 1, 28, 28))
    return training_step(lib, model, opt, x, class_targets(lib, 64, 10), lib.nn.functional.cross_entropy)


# -- W8: Transformer encoder block, batch 16, seq 64, d_model 128, 4 heads, ff 512 -------------
@workload("W8", "Transformer block training step (16x64x128, 4 heads, ff 512, dropout 0), AdamW")
def transformer_step(lib):
    if is_numpy(lib):
        return None
    block = seeded(lib, lambda: lib.nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.0,
                                                               batch_first=True))
    opt = lib.optim.AdamW(block.parameters(), lr=1e-3)
    x = as_lib(lib, float32_data(16 * 64 * 128).reshape(16, 64, 128))
    target = as_lib(lib, float32_data(16 * 64 * 128, seed=4).reshape(16, 64, 128))
    return training_step(lib, block, opt, x, target, lib.nn.functional.mse_loss)


# -- W9: LSTM, input 32, hidden 128, seq 50, batch 32 ------------------------------------------
@workload("W9", "LSTM(32, 128) forward + backward, seq 50, batch 32")
def lstm_forward_backward(lib):
    if is_numpy(lib):
        return None
    lstm = seeded(lib, lambda: lib.nn.LSTM(32, 128))
    x = as_lib(lib, float32_data(50 * 32 * 32).reshape(50, 32, 32))

    def step():
        lstm.zero_grad()
        out, _ = lstm(x)
        out.pow(2).mean().backward()
    return step


# -- W10: softmax + cross-entropy, (4096, 1000) ------------------------------------------------
@workload("W10", "cross_entropy (log_softmax + nll) forward + backward, 4096x1000 f32 [NumPy: by hand]")
def cross_entropy_forward_backward(lib):
    logits_np = float32_data(4096 * 1000).reshape(4096, 1000)
    target_np = np.random.default_rng(3).integers(0, 1000, 4096)
    if is_numpy(lib):  # forward and the hand-derived gradient (softmax - one_hot) / N
        rows = np.arange(4096)

        def by_hand():
            shifted = logits_np - logits_np.max(axis=1, keepdims=True)
            exp = np.exp(shifted)
            total = exp.sum(axis=1, keepdims=True)
            loss = (np.log(total[:, 0]) - shifted[rows, target_np]).mean()
            grad = exp / total
            grad[rows, target_np] -= 1
            grad /= 4096
            return loss, grad
        return by_hand
    logits = as_lib(lib, logits_np, requires_grad=True)
    target = lib.from_numpy(target_np)

    def step():
        logits.grad = None
        lib.nn.functional.cross_entropy(logits, target).backward()
    return step
