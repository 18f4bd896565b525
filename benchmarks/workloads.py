"""Benchmark workloads: one small setup function per table row, registered in WORKLOADS.

A setup receives ``lib`` (the torsh, torch or numpy module), builds its inputs from the same
NumPy data for every library, and returns the zero-argument callable that gets timed. Most
workloads are written once for all three: torsh promises to run PyTorch code unchanged, and
NumPy shares the simple operators. Where NumPy lacks something (sigmoid, autograd) the setup
writes the NumPy equivalent by hand and says so in the row's name.

Models are written once too: a builder takes the library module (torsh is imported the way
a user would import torch) and returns the same architecture for both. Each row may carry
``work`` (FLOPs, bytes or batches per call, giving GFLOP/s, GB/s or batches/s) and a
``target``: the torsh/PyTorch time ratio it should stay under (issue 20; TARGETS), and for W2
the factor to the copy bandwidth (``copy_target``) or, for W17's vmap, the speedup over the
Python loop (``speedup_target``).

Every row has an ``id`` ("W6.2": the key and the row's number within it, in registration
order), which the solo-process harness passes to its workers. ``metric`` says what a worker
measures with the callable: "seconds" per call (the default) or "peak_mb", the growth of the
process's peak resident memory during its first call. ``tiny`` holds keyword overrides that
make the row cheap (small sizes), used by tests/test_benchmark_harness.py to run every row once.
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
    metric: str = "seconds"     # "seconds" per call, or "peak_mb" (peak RSS growth during the first call)
    tiny: dict = None           # setup keyword overrides for a quick smoke run (tests)
    id: str = None              # "W6.2": unique row id, the key plus the row's number within the key
    speedup_target: tuple = None  # W17.1: (other row id, factor), torsh's time there / here >= factor


WORKLOADS = []

# Issue 20's targets: the torsh/PyTorch ratio (time per call, or peak memory for W16) to stay under, by key or,
# where the rows of a key differ, by row id. W15's "throughput >= PyTorch's" is a time ratio <= 1.0 per pass.
# The rows already ahead keep their earlier bounds (W3, W4, W5, W10).
TARGETS = {"W1": 1.5, "W2.2": 1.1, "W3": 0.7, "W4": 1.1, "W5": 1.5, "W6": 0.9, "W7": 1.0, "W8": 1.0, "W9": 1.0,
           "W10": 0.7, "W11": 1.0, "W12": 1.0, "W13": 1.0, "W14": 1.2, "W15": 1.0, "W16": 1.1, "W17.1": 1.5}

# Rows that must beat another row of torsh's own by a factor: {row id: (the other row's id, factor)}, i.e.
# torsh's time for the other row / its time for this row >= factor (vmap(grad) against the loop of grad).
SPEEDUP_TARGETS = {"W17.1": ("W17.2", 5.0)}


def target_of(row_id, key):
    """The row's own target if it has one, else its key's."""
    return TARGETS.get(row_id, TARGETS.get(key))


def workload(key, name, full_only=False, work=None, unit=None, copy_target=None, metric="seconds", tiny=None,
             **params):
    """Register the decorated ``setup(lib, **params)`` as one table row."""
    def register(setup):
        row_id = f"{key}.{sum(w.key == key for w in WORKLOADS) + 1}"
        # after the key's earlier rows, so a row registered later in the file (W8.2) is listed with its key
        after_key = max((i + 1 for i, w in enumerate(WORKLOADS) if w.key == key), default=len(WORKLOADS))
        row = Workload(key, name, functools.partial(setup, **params), full_only, work, unit, target_of(row_id, key),
                       copy_target, metric, tiny or {}, row_id, SPEEDUP_TARGETS.get(row_id))
        WORKLOADS.insert(after_key, row)
        return setup
    return register


def by_id(row_id):
    """The registered row called ``row_id`` ("W6.2")."""
    for w in WORKLOADS:
        if w.id == row_id:
            return w
    raise KeyError(f"no workload row {row_id!r}; rows: {', '.join(w.id for w in WORKLOADS)}")


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
@workload("W2", "add, 1e7 elements f32", full_only=True, numel=10**7, work=12e7, unit="GB/s", copy_target=1.2,
          tiny={"numel": 1000})
@workload("W2", "add, 1e6 elements f32", numel=10**6, work=12e6, unit="GB/s", copy_target=1.2,
          tiny={"numel": 1000})
@workload("W2", "add, 1e3 elements f32", numel=10**3)
def add_elementwise(lib, numel):
    a, b = as_lib(lib, float32_data(numel, seed=1)), as_lib(lib, float32_data(numel, seed=2))
    return lambda: a + b


# the machine's copy bandwidth at the same sizes (1 read + 1 write): what an add can hope for
@workload("W2", "copy, 1e7 f32 [dst.copy_(src); NumPy: np.copyto]", full_only=True, numel=10**7, work=8e7,
          unit="GB/s", tiny={"numel": 1000})
@workload("W2", "copy, 1e6 f32 [dst.copy_(src); NumPy: np.copyto]", numel=10**6, work=8e6, unit="GB/s",
          tiny={"numel": 1000})
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
# cached on disk by hash); the setup call below pays that before timing starts. The tiny runs
# use numexpr so a smoke test never waits for a compiler (tests/test_compile_pythran.py covers it)
TINY_CHAIN = {"numel": 1000, "backend": "numexpr"}


@workload("W3", "tanh(x*0.5+1)*sigmoid(x) - x*x, 1e7 f32 [torsh.compile, pythran]", full_only=True, numel=10**7,
          tiny=TINY_CHAIN)
@workload("W3", "tanh(x*0.5+1)*sigmoid(x) - x*x, 1e6 f32 [torsh.compile, pythran]", numel=10**6, tiny=TINY_CHAIN)
@workload("W3", "same chain, 1e6 f32 [torsh.compile, numexpr]", numel=10**6, backend="numexpr", tiny=TINY_CHAIN)
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


@workload("W3", "same chain, forward + backward, 1e6 f32 [torsh.compile, pythran]", numel=10**6, tiny=TINY_CHAIN)
def fused_chain_backward(lib, numel, backend="pythran"):
    if lib is np:
        return None  # no autograd in NumPy
    x = as_lib(lib, float32_data(numel), requires_grad=True)
    fn = lib.compile(lambda t: _chain(lib, t), backend=backend) if lib.__name__ == "torsh" \
        else (lambda t: _chain(lib, t))

    def step():
        x.grad = None
        fn(x).sum().backward()
    return step


# -- W4: matmul (BLAS underneath for all three; the ratio is the wrapper's cost) --------------
@workload("W4", "matmul 2048x2048 f32", n=2048, work=2 * 2048**3, unit="GFLOP/s", tiny={"n": 64})
@workload("W4", "matmul 1024x1024 f32", n=1024, work=2 * 1024**3, unit="GFLOP/s", tiny={"n": 64})
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
def recurrent_forward_backward(lib, module, seq, batch):
    """forward + backward of ``lib.nn.<module>(32, 128)`` over a (seq, batch, 32) input."""
    if is_numpy(lib):
        return None
    rnn = seeded(lib, lambda: getattr(lib.nn, module)(32, 128))
    x = as_lib(lib, float32_data(seq * batch * 32).reshape(seq, batch, 32))

    def step():
        rnn.zero_grad()
        out, _ = rnn(x)
        out.pow(2).mean().backward()
    return step


@workload("W9", "LSTM(32, 128) forward + backward, seq 50, batch 32", tiny={"seq": 5})
def lstm_forward_backward(lib, seq=50, batch=32):
    return recurrent_forward_backward(lib, "LSTM", seq, batch)


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


# -- W11: GRU, W9's sizes ------------------------------------------------------------------------
@workload("W11", "GRU(32, 128) forward + backward, seq 50, batch 32 (W9's sizes)", tiny={"seq": 5})
def gru_forward_backward(lib, seq=50, batch=32):
    return recurrent_forward_backward(lib, "GRU", seq, batch)


# -- W12: a small ResNet (basic blocks), batch 32, 3x32x32 ---------------------------------------
def resnet_cnn(lib, widths=(16, 32, 64), classes=10):
    """Stem conv-BN-ReLU, one basic block per width (stride 2 from the second on, 1x1 conv-BN
    shortcut where the shape changes), global average pool, linear head."""
    nn = lib.nn

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = lib.relu(self.bn1(self.conv1(x)))
            return lib.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    layers = [nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()]
    for i, width in enumerate(widths):
        layers.append(BasicBlock(widths[max(i - 1, 0)], width, 1 if i == 0 else 2))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[-1], classes)]
    return nn.Sequential(*layers)


@workload("W12", "ResNet basic-block CNN training step (3 blocks 16-32-64, BN), batch 32, 3x32x32, SGD momentum 0.9",
          tiny={"batch": 2})
def resnet_step(lib, batch=32):
    if is_numpy(lib):
        return None
    model = seeded(lib, lambda: resnet_cnn(lib))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = as_lib(lib, float32_data(batch * 3 * 32 * 32).reshape(batch, 3, 32, 32))
    return training_step(lib, model, opt, x, class_targets(lib, batch, 10), lib.nn.functional.cross_entropy)


# -- W13: a GPT-style language model, vocab 1000, 4 layers, d_model 128, 4 heads, seq 64, batch 8 -
def gpt(lib, vocab, layers, seq, d_model=128, heads=4, tied=True):
    """Pre-LayerNorm decoder blocks with causal scaled_dot_product_attention and a GELU MLP;
    the head shares the token embedding's weight (weight tying) when ``tied``."""
    nn, F = lib.nn, lib.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.proj = nn.Linear(d_model, d_model)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = (z.view(b, t, heads, d_model // heads).transpose(1, 2)
                       for z in self.qkv(x).split(d_model, dim=2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.proj(y.transpose(1, 2).reshape(b, t, d_model))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.attn = nn.LayerNorm(d_model), CausalSelfAttention()
            self.ln2 = nn.LayerNorm(d_model)
            self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.token = nn.Embedding(vocab, d_model)
            self.position = nn.Embedding(seq, d_model)
            self.blocks = nn.ModuleList([Block() for _ in range(layers)])
            self.ln_f = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab, bias=False)
            if tied:
                self.head.weight = self.token.weight

        def forward(self, idx):
            x = self.token(idx) + self.position(lib.arange(idx.shape[1]))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    return GPT()


@workload("W13", "GPT LM training step (vocab 1000, 4 layers, d_model 128, 4 heads, causal SDPA, tied head), "
          "seq 64, batch 8, AdamW", tiny={"batch": 1, "seq": 8, "layers": 1})
def gpt_step(lib, batch=8, seq=64, layers=4, vocab=1000, tied=True):
    if is_numpy(lib):
        return None
    model = seeded(lib, lambda: gpt(lib, vocab, layers, seq, tied=tied))
    opt = lib.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    tokens = np.random.default_rng(6).integers(0, vocab, (batch, seq + 1))
    x, target = lib.from_numpy(tokens[:, :-1].copy()), lib.from_numpy(tokens[:, 1:].copy())

    def next_token_loss(logits, target):
        return lib.nn.functional.cross_entropy(logits.reshape(-1, vocab), target.reshape(-1))
    return training_step(lib, model, opt, x, target, next_token_loss)


# issue 20's second W8 variant: one GPT block at W8.1's sizes (batch 16, seq 64, d_model 128, 4 heads, ff 512)
workload("W8", "GPT-style block training step (embedding, causal SDPA, GELU MLP, head 1000 untied), 16x64x128, "
         "4 heads, ff 512, AdamW", batch=16, layers=1, tied=False, tiny={"batch": 1, "seq": 8})(gpt_step)


# -- W14: batch-1 inference latency (eval mode, no_grad) -------------------------------------------
def inference(lib, model, x):
    model.eval()

    def forward():
        with lib.no_grad():
            model(x)
    return forward


@workload("W14", "batch-1 inference (eval, no_grad): MLP 784-512-256-10")
def mlp_inference(lib):
    if is_numpy(lib):
        return None
    return inference(lib, seeded(lib, lambda: mlp(lib)), as_lib(lib, float32_data(784).reshape(1, 784)))


@workload("W14", "batch-1 inference (eval, no_grad): LSTM(32, 128), seq 50", tiny={"seq": 5})
def lstm_inference(lib, seq=50):
    if is_numpy(lib):
        return None
    lstm = seeded(lib, lambda: lib.nn.LSTM(32, 128))
    return inference(lib, lstm, as_lib(lib, float32_data(seq * 32).reshape(seq, 1, 32)))


@workload("W14", "batch-1 inference (eval, no_grad): ResNet basic-block CNN (W12), 3x32x32")
def resnet_inference(lib):
    if is_numpy(lib):
        return None
    model = seeded(lib, lambda: resnet_cnn(lib))
    return inference(lib, model, as_lib(lib, float32_data(3 * 32 * 32).reshape(1, 3, 32, 32)))


# -- W15: DataLoader throughput, 2 worker processes (the library's own) ---------------------------
class SyntheticImages:
    """TensorDataset-like: uint8 3x32x32 images and labels; each item is converted, normalised and
    every other one flipped, so the workers have some per-item work to do."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        image = (self.images[index].float() / 255 - 0.5) / 0.25
        return (image.flip(2) if index % 2 else image), self.labels[index]


@workload("W15", "DataLoader, 2 workers (persistent), shuffle: one pass over 1024 synthetic 3x32x32 items, "
          "batch 32", work=32, unit="batches/s", tiny={"items": 64})
def dataloader_pass(lib, items=1024, batch=32, workers=2):
    if is_numpy(lib):
        return None
    rng = np.random.default_rng(5)
    dataset = SyntheticImages(lib.from_numpy(rng.integers(0, 256, (items, 3, 32, 32), dtype=np.uint8)),
                              lib.from_numpy(rng.integers(0, 10, items)))
    loader = lib.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                                       persistent_workers=True)

    def one_pass():
        for _ in loader:
            pass
    return one_pass


# -- W16: peak resident memory of one training step (the first, from a fresh model) ----------------
workload("W16", "peak RSS growth, first training step: MLP (W6), batch 128, SGD momentum", metric="peak_mb",
         unit="MB", optimizer="sgd")(mlp_step)
workload("W16", "peak RSS growth, first training step: ResNet basic-block CNN (W12), batch 32", metric="peak_mb",
         unit="MB", tiny={"batch": 2})(resnet_step)
workload("W16", "peak RSS growth, first training step: GPT LM (W13), seq 64, batch 8", metric="peak_mb",
         unit="MB", tiny={"batch": 1, "seq": 8, "layers": 1})(gpt_step)


# -- W17: per-sample gradients (torch.func), MLP 784-512-10, batch 64 ------------------------------
@workload("W17", "per-sample gradients, same MLP: Python loop of grad(loss) over the samples (W17.1 should be >= 5x "
          "faster on torsh)", looped=True, tiny={"batch": 4})
@workload("W17", "per-sample gradients, MLP 784-512-10, batch 64: vmap(grad(loss)) [torch.func]", tiny={"batch": 4})
def per_sample_grads(lib, batch=64, looped=False):
    if is_numpy(lib):
        return None
    model = seeded(lib, lambda: lib.nn.Sequential(lib.nn.Linear(784, 512), lib.nn.ReLU(), lib.nn.Linear(512, 10)))
    params = {k: v.detach() for k, v in model.named_parameters()}
    x = as_lib(lib, float32_data(batch * 784).reshape(batch, 784))
    y = class_targets(lib, batch, 10)

    def loss(params, xi, yi):
        out = lib.func.functional_call(model, params, (xi.unsqueeze(0),))
        return lib.nn.functional.cross_entropy(out, yi.unsqueeze(0))

    if looped:
        sample_grad = lib.func.grad(loss)
        return lambda: [sample_grad(params, x[b], y[b]) for b in range(batch)]
    batched = lib.func.vmap(lib.func.grad(loss), in_dims=(None, 0, 0))
    return lambda: batched(params, x, y)
