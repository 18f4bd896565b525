"""Loading of the compiled Pythran kernel families (torsh/_kernels/*.so).

A family that failed to build or import is recorded as missing and its ops run on NumPy,
unless TORSH_REQUIRE_KERNELS=1, when a missing family is an ImportError (CI sets it so a
broken build can never pass as a slow one). TORSH_KERNELS_DISABLE=family[,family] makes
the loader treat those families as missing, to test exactly that.
"""
import importlib
import os

FAMILIES = ("elementwise", "reductions")

_modules = {}
_errors = {}


def _load():
    # Idle OpenMP workers spin by default and then steal the cores BLAS and NumPy need between
    # kernels (measured: 3x slower small training steps on 2 cores); libgomp reads this at load.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    disabled = {f.strip() for f in os.environ.get("TORSH_KERNELS_DISABLE", "").split(",") if f.strip()}
    for family in FAMILIES:
        if family in disabled:
            _errors[family] = "disabled by TORSH_KERNELS_DISABLE"
            continue
        try:
            _modules[family] = importlib.import_module(f"torsh._kernels.{family}")
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


def load_errors():
    return dict(_errors)


_load()
