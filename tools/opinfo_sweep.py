"""OpInfo conformance sweep: PyTorch's own sample inputs run through torch and torsh.

For each OpInfo of ``torch.testing._internal.common_methods_invocations.op_db`` whose op torsh provides,
and for each asked dtype the OpInfo supports, every SampleInput is converted to torsh (tensors via NumPy,
nested sequences and kwargs, dtypes) and called on both libraries. A sample agrees when both raise an
exception of the same type, or neither raises and the outputs have the same structure, shapes, dtypes and
values (``torch.testing.assert_close``-style tolerances); for float64 differentiable ops the gradients of
the sum of the outputs w.r.t. the inputs are compared too. ``--errors`` also runs the OpInfos' ErrorInputs
(torsh must raise the same exception type with a message matching PyTorch's regex).

    python tools/opinfo_sweep.py                        # every op, float32/float64/int64/bool
    python tools/opinfo_sweep.py --ops abs,sum,linalg.det --dtypes float64 --json out.json
    python tools/opinfo_sweep.py --ops 're:^fft\\.' --variants function,method,inplace

Not part of the test suite (it takes minutes); ``tests/test_opinfo_conformance.py`` runs a bounded part.
"""
import argparse
import contextlib
import functools
import json
import math
import re
import signal
import sys
import time
import types
import warnings

import numpy as np
import torch

import torsh

DTYPES = ("float32", "float64", "int64", "bool")
# (rtol, atol) as torch.testing.assert_close's defaults, float32 widened to 1e-5 for summation order
TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1e-5, 1e-5),
              "float64": (1e-7, 1e-7), "complex64": (1e-5, 1e-5), "complex128": (1e-7, 1e-7)}
SAMPLE_SECONDS = 20  # one sample (both libraries) longer than this is reported as a timeout

# outputs with unspecified values: compare structure, shape and dtype only
UNSPECIFIED_VALUES = re.compile(r"(^|\.)(empty|new_empty|empty_like|empty_strided|new_empty_strided)$")


class Missing(Exception):
    """torsh does not provide the op (or a torch function the sample's wrapper calls)."""


class SampleTimeout(Exception):
    pass


# ----------------------------------------------------------------------------- torch -> torsh

def _torsh_dtype(dtype):
    return getattr(torsh, str(dtype).split(".")[-1])


def _torsh_module(module):
    """torsh's namesake of a torch module (torch.nn.functional -> torsh.nn.functional), or None."""
    obj = torsh
    for part in module.__name__.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def tensor_to_torsh(t):
    """A torsh tensor with t's values, dtype and requires_grad (a leaf)."""
    if t.layout != torch.strided:
        raise Missing(f"sample has a {t.layout} tensor")
    data = t.detach().resolve_conj().resolve_neg()
    wide = data.dtype in (torch.bfloat16,)
    if wide:
        data = data.float()
    if _is_partial_view(data):
        out = _strided_like(data)
    else:
        out = torsh.from_numpy(data.numpy().copy())
    if wide:
        out = out.to(_torsh_dtype(t.dtype))
    if t.requires_grad:
        out = out.detach().requires_grad_(True)
    return out


def _is_partial_view(t):
    """A tensor whose strides or storage differ from a fresh contiguous one (as_strided reads the storage)."""
    return t.numel() > 0 and (not t.is_contiguous() or t.storage_offset() != 0
                              or t.untyped_storage().nbytes() != t.numel() * t.element_size())


def _strided_like(t):
    """A torsh view with t's sizes, strides and offset over a copy of t's whole storage."""
    storage_len = t.untyped_storage().nbytes() // t.element_size()
    flat = torch.as_strided(t, (storage_len,), (1,), 0).numpy().copy()
    return torsh.from_numpy(flat).as_strided(tuple(t.shape), t.stride(), t.storage_offset())


def to_torsh(x):
    """Convert a sample's argument (tensors, sequences, dicts, dtypes, ...) to torsh's objects."""
    if isinstance(x, torch.Tensor):
        return tensor_to_torsh(x)
    if isinstance(x, torch.Size):
        return torsh.Size(tuple(x)) if hasattr(torsh, "Size") else tuple(x)
    if isinstance(x, torch.dtype):
        return _torsh_dtype(x)
    if isinstance(x, torch.device):
        return torsh.device(str(x))
    if isinstance(x, torch.memory_format):
        return getattr(torsh, str(x).split(".")[-1])
    if isinstance(x, torch.layout):
        return getattr(torsh, str(x).split(".")[-1])
    if isinstance(x, torch.Generator):
        return torsh.Generator().manual_seed(x.initial_seed())
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*map(to_torsh, x))
    if isinstance(x, (list, tuple)):
        return type(x)(to_torsh(v) for v in x)
    if isinstance(x, dict):
        return {k: to_torsh(v) for k, v in x.items()}
    if isinstance(x, types.ModuleType) and x.__name__.startswith("torch"):
        mod = _torsh_module(x)
        if mod is None:
            raise Missing(f"torsh has no {x.__name__.replace('torch', 'torsh', 1)}")
        return mod
    if callable(x) and getattr(x, "__module__", "") and str(getattr(x, "__module__", "")).startswith("torch"):
        return translate_callable(x)
    return x


def _torsh_wrapper_set_seed(op, *args, **kwargs):
    """torsh's version of op_db's wrapper_set_seed: the op under manual_seed(42)."""
    state = torsh.get_rng_state()
    try:
        torsh.manual_seed(42)
        return op(*args, **kwargs)
    finally:
        torsh.set_rng_state(state)


def _rebind_function(fn):
    """``fn`` (a lambda of op_db) with its globals and closure cells pointing at torsh's objects."""
    glb = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        if name == "wrapper_set_seed":
            glb[name] = _torsh_wrapper_set_seed
        elif name in glb and name != "__builtins__":
            try:
                glb[name] = to_torsh(glb[name])
            except Missing:
                glb[name] = None
    cells = None
    if fn.__closure__:
        cells = tuple(types.CellType(to_torsh(c.cell_contents)) for c in fn.__closure__)
    new = types.FunctionType(fn.__code__, glb, fn.__name__, fn.__defaults__, cells)
    new.__kwdefaults__ = fn.__kwdefaults__
    return new


def _is_test_wrapper(fn):
    """A lambda/def of op_db's definitions (it calls torch's op with its own argument order)."""
    return isinstance(fn, types.FunctionType) and fn.__module__.startswith("torch.testing._internal")


def _lookup(root, dotted):
    obj = root
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def translate_callable(fn):
    """torsh's counterpart of a torch callable, or raise Missing."""
    if isinstance(fn, functools.partial):
        return functools.partial(translate_callable(fn.func), *to_torsh(fn.args), **to_torsh(fn.keywords))
    if isinstance(fn, types.FunctionType) and (not fn.__module__.startswith("torch.") or _is_test_wrapper(fn)):
        return _rebind_function(fn)
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str):
        raise Missing(f"no torsh counterpart for {fn!r}")
    qual = getattr(fn, "__qualname__", "") or ""
    if qual.startswith(("Tensor.", "TensorBase.", "_TensorBase.")):
        found = getattr(torsh.Tensor, name, None)
    else:
        module = str(getattr(fn, "__module__", None) or "torch")
        found = None
        for path in _public_paths(module, name):
            found = _lookup(torsh, path)
            if found is not None:
                break
    if found is None:
        raise Missing(f"torsh has no {name}")
    return found


def _public_paths(module, name):
    """Where torsh may keep a torch function defined in ``module`` under ``name``."""
    sub = module.split(".")[1:]
    public = [p for p in sub if not p.startswith("_")]
    for prefix in ("linalg_", "fft_", "special_"):
        if name.startswith(prefix) and module.startswith("torch._C"):
            return [f"{prefix[:-1]}.{name[len(prefix):]}"]
    paths = [".".join(public + [name])] if public else []
    return paths + [name]


# ----------------------------------------------------------------------------- resolving an OpInfo

def op_key(op):
    return op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")


def torsh_variant(op, variant):
    """torsh's callable for an OpInfo's 'function' / 'method' / 'inplace' variant (None: torch has none)."""
    if variant == "function":
        fn = op.op
        if _is_test_wrapper(fn):
            return _rebind_function(fn)
        by_name = _lookup(torsh, op.name)
        if by_name is not None and callable(by_name):
            return by_name
        if op.name.startswith("__") and hasattr(torsh.Tensor, op.name):
            return getattr(torsh.Tensor, op.name)
        return translate_callable(fn)
    torch_fn = op.method_variant if variant == "method" else op.inplace_variant
    if torch_fn is None:
        return None
    name = getattr(torch_fn, "__name__", None)
    if _is_test_wrapper(torch_fn):
        return _rebind_function(torch_fn)
    found = getattr(torsh.Tensor, name, None) if name else None
    if found is None:
        raise Missing(f"torsh.Tensor has no {name}")
    return found


def torch_variant(op, variant):
    return {"function": op.op, "method": op.method_variant, "inplace": op.inplace_variant}[variant]


# ----------------------------------------------------------------------------- comparing

class Divergence(Exception):
    def __init__(self, kind, detail):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def _leaves(out):
    """(path, value) pairs of a (nested) output."""
    if isinstance(out, (torch.Tensor, torsh.Tensor)):
        return [("", out)]
    if isinstance(out, (list, tuple)) and not isinstance(out, (torch.Size,) + ((torsh.Size,) if hasattr(torsh, "Size") else ())):
        pairs = []
        for i, v in enumerate(out):
            pairs += [(f"[{i}]{p}", leaf) for p, leaf in _leaves(v)]
        return pairs
    return [("", out)]


def _numpy(t):
    t = t.detach()
    if isinstance(t, torch.Tensor):
        t = t.resolve_conj().resolve_neg()
        if t.dtype == torch.bfloat16:
            t = t.float()
    elif str(t.dtype).endswith("bfloat16"):
        t = t.float()
    return np.asarray(t.numpy())


def _dtype_name(d):
    return str(d).split(".")[-1]


def compare_values(ours, ref, where, values=True):
    """Raise Divergence unless ``ours`` (torsh) matches ``ref`` (torch) in structure, shape, dtype, values."""
    ref_leaves, our_leaves = _leaves(ref), _leaves(ours)
    if len(ref_leaves) != len(our_leaves):
        raise Divergence("structure", f"{where}torch gives {len(ref_leaves)} outputs, torsh {len(our_leaves)}")
    for (path, r), (_, o) in zip(ref_leaves, our_leaves):
        at = f"{where}{path}"
        if isinstance(r, torch.Tensor):
            if not isinstance(o, torsh.Tensor):
                raise Divergence("type", f"{at}torch gives a Tensor, torsh a {type(o).__name__}")
            if tuple(r.shape) != tuple(o.shape):
                raise Divergence("shape", f"{at}torch {tuple(r.shape)} vs torsh {tuple(o.shape)}")
            if _dtype_name(r.dtype) != _dtype_name(o.dtype):
                raise Divergence("dtype", f"{at}torch {_dtype_name(r.dtype)} vs torsh {_dtype_name(o.dtype)}")
            if values:
                _compare_arrays(_numpy(o), _numpy(r), _dtype_name(r.dtype), at)
        elif isinstance(r, (bool, int, float, complex)) and not isinstance(o, torsh.Tensor):
            if type(r) is not type(o) and not (isinstance(r, (int, float)) and isinstance(o, (int, float))):
                raise Divergence("type", f"{at}torch gives {type(r).__name__}, torsh {type(o).__name__}")
            if values and not (r == o or (isinstance(r, float) and math.isnan(r) and math.isnan(o))):
                if not (isinstance(r, float) and math.isclose(r, o, rel_tol=1e-6, abs_tol=1e-6)):
                    raise Divergence("value", f"{at}torch {r!r} vs torsh {o!r}")
        elif isinstance(r, torch.dtype):
            if _dtype_name(r) != _dtype_name(o):
                raise Divergence("value", f"{at}torch {r} vs torsh {o}")
        elif isinstance(r, torch.Size) or r is None or isinstance(r, str):
            if (tuple(r) if isinstance(r, torch.Size) else r) != (tuple(o) if isinstance(o, (tuple, list)) else o):
                raise Divergence("value", f"{at}torch {r!r} vs torsh {o!r}")
        else:
            if type(o).__name__ != type(r).__name__:
                raise Divergence("type", f"{at}torch gives {type(r).__name__}, torsh {type(o).__name__}")


def _compare_arrays(a, e, dtype, at):
    if a.shape != e.shape:
        raise Divergence("shape", f"{at}torch {e.shape} vs torsh {a.shape}")
    if e.dtype == np.bool_ or np.issubdtype(e.dtype, np.integer):
        bad = a != e
    else:
        rtol, atol = TOLERANCES.get(dtype, (1e-7, 1e-7))
        with np.errstate(all="ignore"):
            close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        bad = ~close
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
        n = int(np.count_nonzero(bad))
        raise Divergence("value", f"{at}{n}/{bad.size} elements differ, first at {list(idx)}: "
                                  f"torch {e[idx]!r} vs torsh {a[idx]!r}")


# ----------------------------------------------------------------------------- running a sample

@contextlib.contextmanager
def time_limit(seconds):
    def _raise(signum, frame):
        raise SampleTimeout(f"over {seconds} s")
    old = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def describe(x):
    """A short text of a sample's argument: T[2,3]:float32 for tensors."""
    if isinstance(x, torch.Tensor):
        rg = ",grad" if x.requires_grad else ""
        return f"T{list(x.shape)}:{_dtype_name(x.dtype)}{rg}"
    if isinstance(x, (list, tuple)) and not isinstance(x, torch.Size):
        inner = ", ".join(describe(v) for v in x)
        return f"[{inner}]" if isinstance(x, list) else f"({inner})"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}={describe(v)}" for k, v in x.items()) + "}"
    text = repr(x)
    return text if len(text) < 60 else text[:57] + "..."


def describe_sample(sample):
    parts = [describe(sample.input)] + [describe(a) for a in sample.args]
    parts += [f"{k}={describe(v)}" for k, v in sample.kwargs.items()]
    return ", ".join(parts)


def _float_outputs(out):
    return [t for _, t in _leaves(out) if isinstance(t, (torch.Tensor, torsh.Tensor))
            and (t.is_floating_point() or t.is_complex()) and t.requires_grad]


def _grad_leaves(args):
    return [t for _, t in _leaves(list(args)) if isinstance(t, (torch.Tensor, torsh.Tensor)) and t.requires_grad]


def _flatten_args(sample_input, args, kwargs):
    return [sample_input, list(args), list(kwargs.values())]


def _gradients(lib, out, inputs):
    outs = _float_outputs(out)
    leaves = _grad_leaves(inputs)
    if not outs or not leaves:
        return None
    total = None
    for o in outs:
        part = (o.real.sum() + o.imag.sum()) if o.is_complex() else o.sum()
        total = part if total is None else total + part
    grads = lib.autograd.grad(total, leaves, allow_unused=True)
    return [g if g is not None else lib.zeros_like(leaf) for g, leaf in zip(grads, leaves)]


def run_sample(op, variant, sample, dtype, check_grad):
    """None when torsh agrees with torch on ``sample``; else a Divergence."""
    torch_fn = torch_variant(op, variant)
    ours_fn = torsh_variant(op, variant)
    our_in, our_args, our_kwargs = to_torsh(sample.input), to_torsh(sample.args), to_torsh(sample.kwargs)
    process = sample.output_process_fn_grad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_err = our_err = None
        try:
            torch.manual_seed(0)
            ref = torch_fn(sample.input, *sample.args, **sample.kwargs)
        except Exception as e:  # noqa: BLE001 - any exception is a result to compare
            ref_err = e
        try:
            torsh.manual_seed(0)
            ours = ours_fn(our_in, *our_args, **our_kwargs)
        except SampleTimeout:
            raise
        except Missing:
            raise
        except Exception as e:  # noqa: BLE001
            our_err = e
    if ref_err is not None or our_err is not None:
        return _compare_errors(ref_err, our_err)
    values = not UNSPECIFIED_VALUES.search(op.name)
    compare_values(ours, ref, "", values=values)
    if check_grad and values:
        _compare_grads(sample, process, ref, ours, (our_in, our_args, our_kwargs))
    return None


def _compare_errors(ref_err, our_err):
    if ref_err is None:
        if isinstance(our_err, AttributeError) and "torsh" in str(our_err):
            raise Missing(str(our_err).splitlines()[0][:200])
        raise Divergence("raises", f"torsh raises {type(our_err).__name__}: {_first_line(our_err)}; torch does not")
    if our_err is None:
        raise Divergence("no-raise", f"torch raises {type(ref_err).__name__}: {_first_line(ref_err)}; torsh does not")
    if not isinstance(our_err, type(ref_err)):
        raise Divergence("error-type", f"torch raises {type(ref_err).__name__}: {_first_line(ref_err)}; "
                                       f"torsh {type(our_err).__name__}: {_first_line(our_err)}")
    return None


def _first_line(e):
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return text[:160]


def _compare_grads(sample, process, ref, ours, our_inputs):
    try:
        ref_grads = _gradients(torch, process(ref), _flatten_args(sample.input, sample.args, sample.kwargs))
    except Exception:  # noqa: BLE001 - torch itself cannot differentiate this sample: nothing to compare
        return
    if ref_grads is None:
        return
    ref_grads = [torch.zeros_like(g) if g._is_zerotensor() else g for g in ref_grads]
    try:
        our_processed = _rebind_process(process)(ours)
        our_grads = _gradients(torsh, our_processed, _flatten_args(*our_inputs))
    except Missing:  # the sample's output post-processing calls a torch helper torsh lacks: nothing to compare
        return
    except Exception as e:  # noqa: BLE001
        raise Divergence("grad-raises", f"torsh backward raises {type(e).__name__}: {_first_line(e)}") from None
    if our_grads is None:
        raise Divergence("grad-missing", "torsh outputs do not require grad")
    compare_values(our_grads, ref_grads, "grad")


def _rebind_process(process):
    if isinstance(process, types.FunctionType) and process.__module__.startswith("torch"):
        return _rebind_function(process)
    return process


# ----------------------------------------------------------------------------- the sweep

def supported_dtypes(op, wanted):
    have = {_dtype_name(d) for d in op.supported_dtypes("cpu")}
    return [d for d in wanted if d in have]


def sweep_op(op, dtypes, variants, with_grad=True, max_samples=None, errors=False):
    """A per-op result dict: counts, the first divergences, or why the op was not run."""
    result = {"op": op_key(op), "samples": 0, "ok": 0, "diverging": 0, "missing": None, "divergences": []}
    try:
        torsh_variant(op, "function")
    except Missing as e:
        result["missing"] = str(e)
        return result
    except Exception as e:  # noqa: BLE001 - the op's wrapper could not be translated
        result["missing"] = f"cannot translate torch's callable: {type(e).__name__}: {_first_line(e)}"
        return result
    for dtype in supported_dtypes(op, dtypes):
        grad = with_grad and dtype == "float64" and op.supports_autograd
        torch.manual_seed(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                samples = list(op.sample_inputs("cpu", getattr(torch, dtype), requires_grad=grad))
        except Exception as e:  # noqa: BLE001 - torch's own generator failed: report, go on
            result.setdefault("sample_errors", []).append(f"{dtype}: {type(e).__name__}: {_first_line(e)}")
            continue
        for index, sample in enumerate(samples[:max_samples]):
            for variant in variants:
                if variant != "function" and torch_variant(op, variant) is None:
                    continue
                if variant == "inplace" and sample.broadcasts_input:
                    continue
                _record(result, op, variant, sample, dtype, index, grad and variant == "function")
    if errors:
        _sweep_errors(op, result)
    return result


def _record(result, op, variant, sample, dtype, index, grad):
    result["samples"] += 1
    try:
        with time_limit(SAMPLE_SECONDS):
            run_sample(op, variant, sample, dtype, grad)
        result["ok"] += 1
        return
    except Divergence as d:
        kind, detail = d.kind, d.detail
    except Missing as e:
        kind, detail = "missing", str(e)
    except SampleTimeout as e:
        kind, detail = "timeout", str(e)
    except Exception as e:  # noqa: BLE001 - a failure of the comparison itself
        kind, detail = "sweep-error", f"{type(e).__name__}: {_first_line(e)}"
    result["diverging"] += 1
    if len(result["divergences"]) < 20:
        result["divergences"].append({"dtype": dtype, "variant": variant, "sample": index, "kind": kind,
                                      "detail": detail, "input": describe_sample(sample)})


def _sweep_errors(op, result):
    try:
        error_inputs = list(op.error_inputs("cpu"))
    except Exception:  # noqa: BLE001 - op without error inputs
        return
    for index, ei in enumerate(error_inputs):
        result["samples"] += 1
        sample = ei.sample_input
        try:
            with time_limit(SAMPLE_SECONDS), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn = torsh_variant(op, "function")
                fn(to_torsh(sample.input), *to_torsh(sample.args), **to_torsh(sample.kwargs))
            kind, detail = "no-raise", f"torch raises {ei.error_type.__name__}; torsh does not"
        except Missing as e:
            kind, detail = "missing", str(e)
        except SampleTimeout as e:
            kind, detail = "timeout", str(e)
        except Exception as e:  # noqa: BLE001
            if isinstance(e, ei.error_type) and re.search(ei.error_regex, str(e)):
                result["ok"] += 1
                continue
            kind = "error-type" if not isinstance(e, ei.error_type) else "error-message"
            detail = f"torch {ei.error_type.__name__} /{ei.error_regex}/; torsh {type(e).__name__}: {_first_line(e)}"
        result["diverging"] += 1
        if len(result["divergences"]) < 20:
            result["divergences"].append({"dtype": "error_inputs", "variant": "function", "sample": index,
                                          "kind": kind, "detail": detail, "input": describe_sample(sample)})


def select_ops(spec):
    from torch.testing._internal.common_methods_invocations import op_db
    if not spec:
        return list(op_db)
    chosen = []
    for part in spec.split(","):
        if part.startswith("re:"):
            pattern = re.compile(part[3:])
            chosen += [op for op in op_db if pattern.search(op_key(op))]
        else:
            chosen += [op for op in op_db if op.name == part or op_key(op) == part]
    return chosen


def summarize(results):
    agreeing = [r for r in results if r["missing"] is None and r["samples"] and not r["diverging"]]
    diverging = [r for r in results if r["diverging"]]
    missing = [r for r in results if r["missing"] is not None]
    return {"ops": len(results), "fully_agreeing": len(agreeing), "diverging": len(diverging),
            "missing": len(missing), "no_samples": len(results) - len(agreeing) - len(diverging) - len(missing),
            "samples": sum(r["samples"] for r in results), "samples_ok": sum(r["ok"] for r in results)}


def print_result(r, out=sys.stdout):
    if r["missing"] is not None:
        print(f"MISSING  {r['op']}: {r['missing']}", file=out)
        return
    status = "OK      " if not r["diverging"] else "DIVERGES"
    line = f"{status} {r['op']}: {r['ok']}/{r['samples']} samples agree"
    if r["divergences"]:
        d = r["divergences"][0]
        line += f"; first: {d['dtype']} {d['variant']} #{d['sample']} {d['kind']}: {d['detail']} <- ({d['input']})"
    print(line, file=out, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", default="", help="comma-separated OpInfo names (name or name.variant; "
                                                 "'re:<regex>' for a pattern); default: all")
    parser.add_argument("--dtypes", default=",".join(DTYPES))
    parser.add_argument("--variants", default="function", help="function,method,inplace")
    parser.add_argument("--json", default=None, help="write the per-op results here")
    parser.add_argument("--no-grad", action="store_true", help="skip the float64 gradient comparison")
    parser.add_argument("--errors", action="store_true", help="also run the OpInfos' ErrorInputs")
    parser.add_argument("--max-samples", type=int, default=None, help="at most this many samples per dtype")
    args = parser.parse_args(argv)
    ops = select_ops(args.ops)
    dtypes = [d for d in args.dtypes.split(",") if d]
    variants = [v for v in args.variants.split(",") if v]
    results = []
    start = time.perf_counter()
    for op in ops:
        r = sweep_op(op, dtypes, variants, with_grad=not args.no_grad, max_samples=args.max_samples,
                     errors=args.errors)
        results.append(r)
        print_result(r)
    summary = summarize(results)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    print("summary: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "dtypes": dtypes, "variants": variants, "results": results}, f, indent=1)
    return 0 if not summary["diverging"] else 1


if __name__ == "__main__":
    sys.exit(main())
