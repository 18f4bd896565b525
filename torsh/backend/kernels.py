"""Loading of the compiled kernel families declared in ``families.py`` (torsh/_kernels/*.so: Pythran, and
conv_direct and lstm_cell in C++).

On x86-64 each family is built twice, for the portable baseline and for x86-64-v3 (AVX2,
FMA); the v3 copy is loaded when this CPU has those instructions (TORSH_KERNEL_ISA=baseline
forces the portable one). A family that failed to build or import is recorded as missing and its ops run on NumPy,
unless TORSH_REQUIRE_KERNELS=1, when a missing family is an ImportError (CI sets it so a
broken build can never pass as a slow one). TORSH_KERNELS_DISABLE=family[,family] makes
the loader treat those families as missing, to test exactly that.
"""
import importlib
import os

from . import families

FAMILIES = families.names()  # as declared in families.py, which meson.build's lists must match

_modules = {}
_errors = {}
_isa = {}

# x86-64-v3 as /proc/cpuinfo spells it (lzcnt shows up as "abm")
_X86_64_V3_FLAGS = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}


def cpu_supports_x86_64_v3():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return _X86_64_V3_FLAGS <= set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return False


def _import_family(family):
    """The fastest copy of ``family`` this CPU runs, and the name of its instruction set."""
    baseline, x86_64_v3 = families.by_name(family).modules
    if os.environ.get("TORSH_KERNEL_ISA") != "baseline" and cpu_supports_x86_64_v3():
        try:
            return importlib.import_module(x86_64_v3), "x86-64-v3"
        except ImportError:
            pass  # not built (non-x86 or -Dmarch=...): the baseline copy below
    return importlib.import_module(baseline), "baseline"


def _load():
    # Idle OpenMP workers spin by default and then steal the cores BLAS and NumPy need between
    # kernels (measured: 3x slower small training steps on 2 cores); libgomp reads this at load.
    # TORSH_OMP_SPINCOUNT=N (a two-thread A/B switch, issue 20): let them spin N polls (libgomp's GOMP_SPINCOUNT)
    # before they sleep instead, so that back-to-back regions (W12's convolutions, batch norms and relus: ~50
    # a step, no BLAS between them) find the worker awake instead of waking it through a futex (25-45 us each)
    spin = os.environ.get("TORSH_OMP_SPINCOUNT", "")
    if spin.isdigit() and "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", spin)
    else:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    disabled = {f.strip() for f in os.environ.get("TORSH_KERNELS_DISABLE", "").split(",") if f.strip()}
    for family in FAMILIES:
        if family in disabled:
            _errors[family] = "disabled by TORSH_KERNELS_DISABLE"
            continue
        try:
            _modules[family], _isa[family] = _import_family(family)
        except ImportError as exc:
            _errors[family] = str(exc)
    if _errors and os.environ.get("TORSH_REQUIRE_KERNELS") == "1":
        missing = ", ".join(f"{f} ({why})" for f, why in _errors.items())
        raise ImportError(
            f"torsh: compiled kernel families missing: {missing}. TORSH_REQUIRE_KERNELS=1 forbids "
            "running on the NumPy fallback; rebuild with `pip install .`.")


def get(family):
    """The compiled module of ``family``, or None when it is not available."""
    return _modules.get(family)


def available():
    """{family: True/False} for every kernel family torsh knows."""
    return {family: family in _modules for family in FAMILIES}


def instruction_sets():
    """{family: "x86-64-v3" or "baseline"}: which compiled copy of each family is in use."""
    return dict(_isa)


def load_errors():
    return dict(_errors)


_load()
