"""Threaded kernels for tests/test_fork_safety.py, written once against a library (torsh or torch).

Importable by the scripts those tests run in subprocesses and by "spawn"/"forkserver" DataLoader
workers (a module, not a test file, so that workers can unpickle the dataset). Inputs come from
seeded NumPy streams, so torsh and the torch reference see the same numbers."""
import importlib

import numpy as np

BIG = 3_000_000  # elements: above the parallel thresholds of the elementwise ops and of adam_step


def adam_step(lib, start, grad=1.0, numel=BIG):
    """One Adam step (lr 0.5) on a ``numel``-element parameter filled with ``start``; returns it."""
    param = lib.nn.Parameter(lib.full((numel,), float(start)))
    param.grad = lib.full((numel,), float(grad))
    lib.optim.Adam([param], lr=0.5).step()
    return param.detach()


def _from_numpy(lib, array):
    return lib.tensor(array.tolist() if array.ndim == 0 else array, dtype=lib.float32)


def _total(t):
    """A float64 sum: float32 sums of millions of elements differ by their order of additions."""
    return float(t.double().sum())


def workload(lib):
    """The threaded kernels a forked child must be able to run; a dict of float summaries."""
    rng = np.random.default_rng(7)
    out = {}
    x = _from_numpy(lib, rng.standard_normal(BIG).astype(np.float32))
    out["elementwise"] = _total(lib.tanh(x) * 2 + x)
    out["adam"] = _total(adam_step(lib, 1.0, grad=0.25))
    lstm = lib.nn.LSTM(33, 128)
    with lib.no_grad():
        for p in lstm.parameters():
            p.copy_(_from_numpy(lib, rng.uniform(-0.1, 0.1, tuple(p.shape)).astype(np.float32)))
        seq = _from_numpy(lib, rng.standard_normal((50, 32, 33)).astype(np.float32))
        y, (h, c) = lstm(seq)
    out["lstm"] = _total(y)
    out["lstm_c"] = _total(c)
    images = _from_numpy(lib, rng.standard_normal((32, 3, 32, 32)).astype(np.float32))
    weight = _from_numpy(lib, rng.standard_normal((16, 3, 3, 3)).astype(np.float32))
    out["conv"] = _total(lib.nn.functional.conv2d(images, weight, padding=1).abs())
    a = _from_numpy(lib, rng.standard_normal((512, 512)).astype(np.float32))
    out["matmul"] = _total((a @ a).abs())  # big enough for BLAS's own threads
    return out


class AdamDataset:
    """Item i: [i, i after one Adam step, 2 i + 1 computed on BIG elements] (threaded kernels in a worker)."""

    def __init__(self, lib_name, length=8):
        self.lib_name, self.length = lib_name, length

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        lib = importlib.import_module(self.lib_name)
        stepped = adam_step(lib, i)
        big = lib.full((BIG,), float(i)) * 2 + 1
        return lib.tensor([float(i), float(stepped[-1]), float(big[-1])])
