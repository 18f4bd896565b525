"""Cases of the registry-wide conformance sweep (test_registry_conformance.py): each OpDef reachable as
``torch.<namespace>.<name>`` runs its forward-AD sample (test_forward_ad_registry.SAMPLES, or the first GENERIC
pattern both libraries accept) in several input variants, once per library.

The samples are lambdas written against torsh (``torsh.eye``, ``_idx()``, ``_EYE``...). ``for_lib`` rebinds a
lambda's globals so the very same code runs against PyTorch: ``torsh`` becomes ``torch``, module tensors become
torch tensors and module functions are rebound the same way.
"""
import types

import numpy as np

import torsh
import test_forward_ad_registry as fad
from helpers import torch_ref
from torsh._ops import registry

# ---------------------------------------------------------------------------------------------- rebinding

_TORCH_GLOBALS = None


def _torch_globals():
    """test_forward_ad_registry's globals as seen from PyTorch (built once)."""
    global _TORCH_GLOBALS
    if _TORCH_GLOBALS is None:
        _TORCH_GLOBALS = {}
        for key, value in vars(fad).items():
            _TORCH_GLOBALS[key] = _to_torch_value(value)
    return _TORCH_GLOBALS


def _to_torch_value(value):
    if value is torsh:
        return torch_ref
    if isinstance(value, torsh.Tensor):
        return torch_ref.tensor(value.numpy())
    if isinstance(value, types.FunctionType) and value.__module__ == fad.__name__:
        return _rebind(value, _TORCH_GLOBALS)
    if callable(value) and getattr(value, "__module__", "").startswith("torsh") and hasattr(torch_ref,
                                                                                             value.__name__):
        return getattr(torch_ref, value.__name__)  # _R = torsh.view_as_real
    return value


def _rebind(fn, glob):
    rebound = types.FunctionType(fn.__code__, glob, fn.__name__, fn.__defaults__, fn.__closure__)
    rebound.__kwdefaults__ = fn.__kwdefaults__
    return rebound


def for_lib(call, lib):
    """``call`` (a sample lambda of test_forward_ad_registry) running against ``lib``."""
    if lib is torsh or call.__module__ != fad.__name__:
        return call
    return _rebind(call, _torch_globals())


# ---------------------------------------------------------------------------------------------- ops

_MODULE_OF = {"torsh": "", "torsh.linalg": "linalg", "torsh.fft": "fft", "torsh.special": "special",
              "torsh.nn.functional": "nn.functional"}
# ops whose values are drawn at random (no value to compare) or that only exist to build tensors from nothing
RANDOM = {"bernoulli", "multinomial", "normal", "uniform", "poisson", "binomial", "rand", "randn", "randint",
          "randperm", "nn_functional_dropout", "nn_functional_dropout1d", "nn_functional_dropout2d",
          "nn_functional_dropout3d", "nn_functional_alpha_dropout", "nn_functional_feature_alpha_dropout",
          "nn_functional_gumbel_softmax", "nn_functional_rrelu", "nn_functional_fractional_max_pool2d",
          "nn_functional_fractional_max_pool2d_with_indices", "nn_functional_fractional_max_pool3d",
          "nn_functional_fractional_max_pool3d_with_indices", "empty", "empty_like", "rand_like", "randn_like",
          "randint_like", "empty_strided"}


def public_function(lib, entry):
    """The op's public function in ``lib`` (torsh or torch), or None when that library has no such name."""
    module = lib
    for part in filter(None, _MODULE_OF[entry.namespace].split(".")):
        module = getattr(module, part, None)
    public = entry.public_name or entry.name[len(registry.NAMESPACES[entry.namespace]):]
    return getattr(module, public, None)


def _fits(entry, shapes, call):
    """Both libraries run the pattern on float64 inputs (int64 ones for integer-only ops)."""
    return any(_runs(entry, shapes, call, dtype) for dtype in ("float64", "int64"))


def _runs(entry, shapes, call, dtype):
    for lib in (torsh, torch_ref):
        try:
            for_lib(call, lib)(public_function(lib, entry), *make_inputs(lib, shapes, dtype))
        except Exception:  # noqa: BLE001  (this pattern does not fit the op's signature)
            return False
    return True


def _svd_sample(f, a):
    u, s, v = f(a)  # torch.svd returns V, not V^H: U diag(S) V^T is free of the singular vectors' signs
    return s, (u * s.unsqueeze(-2)) @ v.mT


def _sparse_sample(make):
    """A sparse constructor's sample: ``make(f, lib, three values of a's dtype)`` (a's first ones, zero-padded:
    PyTorch does not check a CSR tensor's sizes unless asked, and crashes on too few), compared dense."""
    def sample(f, a):
        lib = torsh if isinstance(a, torsh.Tensor) else torch_ref
        return make(f, lib, lib.cat([a.reshape(-1), lib.zeros(3, dtype=a.dtype)])[:3]).to_dense()
    return sample


# samples of this sweep where the forward-AD one does not suit a value comparison or PyTorch's signature
SAMPLES = {
    "svd": ([(4, 3)], _svd_sample),
    "permute": ([(2, 3, 4)], lambda f, a: f(a, (2, 0, 1))),  # torch.permute takes dims as one tuple
    "sparse_coo_tensor": ([(3,)], _sparse_sample(lambda f, lib, v: f(lib.tensor([[0, 1, 1], [2, 0, 2]]), v, (2, 3)))),
    "sparse_csr_tensor": ([(3,)], _sparse_sample(lambda f, lib, v: f(lib.tensor([0, 1, 3]), lib.tensor([1, 0, 2]), v,
                                                                      (2, 3)))),
    # eigenvectors are unique up to a phase per column: compared by modulus
    "linalg_eig": ([(3, 3)], lambda f, a: (lambda values, vectors: (values, vectors.abs()))(*f(a))),
    "flip": ([(3, 4)], lambda f, a: f(a, (0,))),
    "tile": ([(3, 4)], lambda f, a: f(a, (2, 1))),
    "bincount": ([(5,)], lambda f, a: f((a * 4).long())),
    "nn_functional_rms_norm": ([(3, 4), (4,)], lambda f, a, w: f(a, (4,), w)),
    "nn_functional_bilinear": ([(3, 4), (3, 2), (5, 4, 2)], lambda f, a, b, w: f(a, b, w)),
    "nn_functional_channel_shuffle": ([(1, 4, 2, 2)], lambda f, a: f(a, 2)),
}


def sample_for(entry):
    """(how, shapes, call): the op's explicit sample (this sweep's, else the forward-AD one), else the first
    generic pattern both libraries take; None when none fits."""
    if entry.name in SAMPLES:
        shapes, call = SAMPLES[entry.name]
        return "explicit", shapes, call
    if entry.name in fad.SAMPLES:
        shapes, call = fad.SAMPLES[entry.name]
        return "explicit", shapes, call
    return next(((how, shapes, call) for how, shapes, call in fad.GENERIC if _fits(entry, shapes, call)), None)


# ops no sample suits, and why
UNSAMPLED = {
    # quantization: quantized inputs or a quantizer's parameters (tests/test_quantization_*.py compare them with torch)
    "quantize_per_tensor": "needs scale, zero point and a quantized dtype",
    "quantize_per_tensor_dynamic": "needs a quantized dtype",
    "quantize_per_channel": "needs per-channel scales and zero points", "int_repr": "needs a quantized input",
    "q_scale": "needs a quantized input", "q_zero_point": "needs a quantized input", "qscheme": "needs a quantized input",
    "q_per_channel_scales": "needs a quantized input", "q_per_channel_zero_points": "needs a quantized input",
    "q_per_channel_axis": "needs a quantized input",
    "fake_quantize_per_tensor_affine": "needs scale, zero point and a range",
    "fake_quantize_per_channel_affine": "needs per-channel scales, zero points and a range",
    "arange": "factory", "eye": "factory", "full": "factory", "linspace": "factory", "logspace": "factory",
    "ones": "factory", "zeros": "factory", "tril_indices": "factory", "triu_indices": "factory",
    "fft_fftfreq": "factory", "fft_rfftfreq": "factory", "from_numpy": "takes an ndarray",
    "is_nonzero": "returns a Python bool: one-element inputs only", "istft": "needs a complex STFT input",
    "linalg_ldl_solve": "needs an LDL factorization", "nn_functional_cosine_embedding_loss": "needs a +-1 target",
    "nn_functional_grouped_mm": "low-precision grouped products", "nn_functional_scaled_grouped_mm": "ditto",
    "nn_functional_scaled_mm": "ditto",
    "nonzero_static": "keyword-only size",
}


def reachable_entries():
    """The OpDefs both libraries bind publicly, random ones aside."""
    return [e for e in registry.entries() if e.namespace is not None and e.name not in RANDOM
            and public_function(torsh, e) is not None and public_function(torch_ref, e) is not None]


# ---------------------------------------------------------------------------------------------- variants

def _values(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype == "int64":
        return rng.integers(1, 5, size=shape).astype(np.int64)
    return rng.uniform(0.2, 0.9, size=shape).astype(dtype)  # the forward-AD samples' domain


def _tensor(lib, arr, strided):
    """``arr`` as a ``lib`` tensor; a non-contiguous view holding the same values when ``strided``."""
    if not strided or arr.ndim == 0:
        return lib.tensor(arr)
    if arr.ndim == 1:
        return lib.tensor(np.repeat(arr, 2))[::2]
    return lib.tensor(np.ascontiguousarray(np.swapaxes(arr, -1, -2))).transpose(-1, -2)


def make_inputs(lib, shapes, dtype, strided=False):
    return tuple(_tensor(lib, _values(s, dtype, seed), strided) for seed, s in enumerate(shapes))


def _zero_dim(shapes):
    return [()] + list(shapes[1:])


def _empty(shapes):
    """The first dim of every input shaped like the first one becomes 0."""
    first = shapes[0]
    return [(0,) + tuple(s[1:]) if s == first and len(s) else s for s in shapes]


def _broadcast(shapes):
    """The second input loses its leading dim: (3, 4) op (4,)."""
    return [shapes[0], tuple(shapes[1][1:])] + list(shapes[2:])


# variant -> (dtype, shapes transform, strided); structural variants run in float32, PyTorch's default dtype
VARIANTS = {
    "float64": ("float64", list, False),
    "float32": ("float32", list, False),
    "int64": ("int64", list, False),
    "bool": ("bool", list, False),
    "zero_dim": ("float32", _zero_dim, False),
    "empty": ("float32", _empty, False),
    "strided": ("float32", list, True),
    "broadcast": ("float32", _broadcast, False),
}


def variants_for(shapes):
    """The variants a sample with inputs ``shapes`` takes: 0-d/empty need a shaped first input, broadcast a pair of
    equal-shaped matrices."""
    names = [v for v in VARIANTS if v != "broadcast"]
    if not shapes or len(shapes[0]) == 0:
        names = [v for v in names if v not in ("zero_dim", "empty")]
    if len(shapes) >= 2 and shapes[0] == shapes[1] and len(shapes[1]) >= 2:
        names.append("broadcast")
    return names


def run(lib, entry, shapes, call, variant):
    """("ok", result) or ("error", exception) of the op's sample in ``variant`` against ``lib``."""
    dtype, transform, strided = VARIANTS[variant]
    try:
        inputs = make_inputs(lib, transform(shapes), dtype, strided)
        return "ok", for_lib(call, lib)(public_function(lib, entry), *inputs)
    except Exception as e:  # noqa: BLE001  (the exception is the outcome compared)
        return "error", e
