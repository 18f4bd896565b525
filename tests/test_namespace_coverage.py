"""How much of PyTorch 2.13's public surface torsh has, per namespace: the public names (no leading underscore;
functions, classes, constants; submodules left out) of each PyTorch namespace that torsh lacks.

Run with ``-s`` to see the numbers and the missing names. Each namespace asserts a floor (the measured coverage
rounded down, in percent): raise it when names are added, never lower it.
"""
import importlib
import inspect
import re

import pytest

import torsh
from helpers import torch_ref

# (PyTorch name, torsh name, floor in percent)
NAMESPACES = [
    ("torch", "torsh", 99),
    ("torch.Tensor", "torsh.Tensor", 99),
    ("torch.nn", "torsh.nn", 100),
    ("torch.nn.functional", "torsh.nn.functional", 100),
    ("torch.nn.init", "torsh.nn.init", 100),
    ("torch.nn.utils", "torsh.nn.utils", 100),
    ("torch.optim", "torsh.optim", 100),
    ("torch.optim.lr_scheduler", "torsh.optim.lr_scheduler", 100),
    ("torch.autograd", "torsh.autograd", 100),
    ("torch.linalg", "torsh.linalg", 100),
    ("torch.fft", "torsh.fft", 100),
    ("torch.special", "torsh.special", 100),
    ("torch.utils.data", "torsh.utils.data", 100),
    ("torch.profiler", "torsh.profiler", 100),
    ("torch.masked", "torsh.masked", 82),
    ("torch.utils.benchmark", "torsh.utils.benchmark", 57),
]

# Names out of this measure, each family belonging to another issue or to hardware torsh does not target.
SKIPPED = re.compile("|".join([
    r"cudnn|miopen|mkldnn|fbgemm|cuda|cufft|mps|xpu|hip|vulkan|ipu|mtia|hpu|xla|nnpack",  # device/vendor internals
    r"quantiz|^q_|qint|quint|qscheme|QInt|QUInt|^per_channel|^per_tensor|int_repr|fake_quant|qparams",  # quantization
    r"sparse|_coo|csr|csc|bsr|bsc|^indices$|^values$|^crow|^ccol|^row_indices|^col_indices",  # sparse tensors
    r"^indices_copy$|^values_copy$|^[hds]?smm$|^hspmm$|^spmm$|^saddmm$|^sspaddmm$",            # sparse products
    r"vmap|^func$|forward_ad|^jvp$|^vjp$|^jacrev|^jacfwd|^hessian$|functional_call|dual",  # function transforms
    r"jit|^fx$|onnx|^export|Script|^Graph|^compiler|dynamo|inductor|^cond$|^while_loop|symbolic|^Sym|^sym_",  # capture
    r"^parse_ir$|^parse_schema$|^parse_type_comment$|^import_ir_module|^merge_type_from_type_comment$|"
    r"^unify_type_list$",                                                                   # TorchScript IR
    r"distributed|^rpc|DeviceMesh|DTensor",                                               # distributed
    r"Storage$|^storage$|_storage|nested|^align|names$|^rename|^refine_names|^unflatten_dense",  # storages, named
]))


def _is_api(name, value, namespace):
    """A function, class or constant of PyTorch's own API: not a module, not an import PyTorch happens to expose
    (typing helpers, math.inf, torch.Tensor re-exported by submodules), not a JIT/C++ binding class."""
    if inspect.ismodule(value) or name == "TYPE_CHECKING":
        return False
    if type(value).__name__ == "pybind11_type" or type(type(value)).__name__ == "pybind11_type":
        return False  # the TorchScript IR's C++ classes (Block, Graph, FileCheck, ...) and their enum values
    if inspect.isclass(namespace):
        return True  # Tensor: every public attribute
    if isinstance(value, (bool, int, float, str, tuple, dict)):
        return namespace is torch_ref  # constants: torch.pi, torch.inf, ...; elsewhere imports and doc fragments
    if value is torch_ref.Tensor or inspect.isbuiltin(value):
        return inspect.isbuiltin(value)  # C++ ops live in torch._C modules; a re-exported Tensor is no new name
    module = getattr(value, "__module__", None) or "torch"
    # torch._C holds the C++ API's classes (Generator, ...); other torch._* modules are private helpers
    return module.startswith("torch") and (module == "torch._C" or not module.startswith("torch._"))


def _public_names(namespace):
    """The public API names of a namespace object (a module, or the Tensor class)."""
    names = set()
    for name in dir(namespace):
        if name.startswith("_") or SKIPPED.search(name):
            continue
        try:
            value = getattr(namespace, name)
        except Exception:  # noqa: BLE001 - deprecated attributes that raise are not part of the surface
            continue
        if _is_api(name, value, namespace):
            names.add(name)
    return names


def _resolve(path, root):
    head, *rest = path.split(".")
    obj = root
    for part in rest:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(f"{obj.__name__}.{part}")
    return obj


def measure(ref_path, our_path):
    """(names PyTorch has, names torsh lacks) for one namespace."""
    ref_names = _public_names(_resolve(ref_path, torch_ref))
    ours = _resolve(our_path, torsh)
    missing = sorted(n for n in ref_names if not hasattr(ours, n))
    return ref_names, missing


@pytest.mark.parametrize("ref_path,our_path,floor", NAMESPACES, ids=[n[0] for n in NAMESPACES])
def test_coverage_floor(ref_path, our_path, floor):
    names, missing = measure(ref_path, our_path)
    coverage = 100.0 * (len(names) - len(missing)) / len(names)
    print(f"\n{ref_path}: {len(names) - len(missing)}/{len(names)} = {coverage:.1f}% "
          f"(floor {floor}%); missing {len(missing)}:\n  " + " ".join(missing))
    assert coverage >= floor, f"{ref_path} coverage fell to {coverage:.1f}% below its floor {floor}%"


def test_the_measure_counts_the_core_api():
    """The skip list and filters leave the everyday names in (a filter that swallowed them would fake coverage)."""
    names = _public_names(torch_ref)
    assert {"abs", "add", "tensor", "zeros", "float32", "pi", "Generator", "finfo", "FloatTensor", "cdist"} <= names
    assert len(names) > 600
    assert {"view", "backward", "grad", "shape", "add_"} <= _public_names(torch_ref.Tensor)
    assert {"Linear", "Module", "Parameter"} <= _public_names(torch_ref.nn)
    assert not SKIPPED.search("conv2d") and SKIPPED.search("quantize_per_tensor") and SKIPPED.search("to_sparse")
