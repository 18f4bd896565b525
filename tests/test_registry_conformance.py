"""Registry-wide conformance with PyTorch 2.13: every OpDef that both libraries bind publicly runs its sample
(registry_conformance_cases.py, from the forward-AD samples) in float64, float32, int64 and bool, with a 0-d
input, an empty input, non-contiguous inputs and (binary samples) a broadcast pair. Per variant: both accept
or both reject; accepted results have PyTorch's dtype, shape and values; rejections raise PyTorch's exception
type with its message's first line. The divergences not fixed (outside this sweep's fix scope, or intended:
reason "intended: ...") are listed in registry_conformance_known.KNOWN; each is asserted still to diverge."""
import builtins

import numpy as np
import pytest

import torsh
from helpers import PKG, assert_close, needs_torch, torch_ref
import registry_conformance_cases as cases
from registry_conformance_known import KNOWN

pytestmark = needs_torch

ENTRIES = {e.name: e for e in cases.reachable_entries()} if torch_ref is not None else {}
SAMPLED = {name: cases.sample_for(e) for name, e in ENTRIES.items()}
CASES = [(name, variant) for name, sample in sorted(SAMPLED.items()) if sample is not None
         for variant in cases.variants_for(sample[1])]


def divergence(ours, ref):
    """None when torsh's outcome agrees with PyTorch's, else what differs."""
    (our_kind, our_value), (ref_kind, ref_value) = ours, ref
    if ref_kind == "error" or our_kind == "error":
        return _error_divergence(ours, ref)
    try:
        _assert_same_output(our_value, ref_value)
    except AssertionError as e:
        return f"result: {str(e).strip()}"
    return None


def _builtin_base(exc_type):
    return next(t for t in exc_type.__mro__ if getattr(builtins, t.__name__, None) is t)


def _error_divergence(ours, ref):
    (our_kind, our_value), (ref_kind, ref_value) = ours, ref
    if ref_kind != "error":
        return f"torsh raises {type(our_value).__name__}: {our_value}; PyTorch accepts"
    if our_kind != "error":
        return f"torsh accepts; PyTorch raises {type(ref_value).__name__}: {ref_value}"
    expected = _builtin_base(type(ref_value))
    if not isinstance(our_value, expected):
        return f"exception type: torsh {type(our_value).__name__}({our_value}), PyTorch {type(ref_value).__name__}"
    first_line = str(ref_value).split("\n")[0]
    ours_named = str(our_value).replace(f"{PKG}.", "torch.")  # torsh names its own package (torsh.Size, torsh.bool)
    if first_line not in str(our_value) and first_line not in ours_named:
        return f"message: torsh {str(our_value)!r}, PyTorch {first_line!r}"
    return None


def _assert_same_output(ours, ref):
    if isinstance(ref, torch_ref.Tensor):
        assert_close(ours.resolve_conj().resolve_neg(), ref.resolve_conj().resolve_neg())
    elif isinstance(ref, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(ref), f"torsh {ours!r}, PyTorch {ref!r}"
        for o, r in zip(ours, ref):
            _assert_same_output(o, r)
    elif isinstance(ref, float) and np.isnan(ref):
        assert isinstance(ours, float) and np.isnan(ours), f"torsh {ours!r}, PyTorch nan"
    else:
        assert type(ours) is type(ref) and ours == ref, f"torsh {ours!r}, PyTorch {ref!r}"


def _outcomes(name, variant):
    how, shapes, call = SAMPLED[name]
    entry = ENTRIES[name]
    return cases.run(torsh, entry, shapes, call, variant), cases.run(torch_ref, entry, shapes, call, variant)


@pytest.mark.parametrize("name,variant", [c for c in CASES if c not in KNOWN])
def test_op_variant_matches_pytorch(name, variant):
    problem = divergence(*_outcomes(name, variant))
    assert problem is None, f"{name} [{variant}]: {problem}"


@pytest.mark.parametrize("name,variant", sorted(KNOWN))
def test_known_divergence_still_diverges(name, variant):
    """Once torsh agrees, this fails: remove the KNOWN entry."""
    assert (name, variant) in CASES
    assert divergence(*_outcomes(name, variant)) is not None, KNOWN[(name, variant)]


def test_sweep_covers_the_registry():
    """Every reachable op has a sample or is listed in UNSAMPLED with a reason."""
    unsampled = {name for name, sample in SAMPLED.items() if sample is None}
    assert sorted(unsampled - set(cases.UNSAMPLED)) == []
    assert sorted(set(cases.UNSAMPLED) - unsampled) == []
