"""Per-call choice of the kernel variant that runs an op, and the record of why.

Variants, cheapest set-up first: ``numpy`` (reference, any dtype/layout/broadcast),
``pythran_simd`` (compiled single-thread vectorised pass) and ``pythran_omp`` (the same
cut into chunks over OpenMP threads). Compiled kernels take flat contiguous float32/float64
operands of one shape; everything else goes to NumPy and the record says so.

Thresholds are per op, in elements: ``simd`` is the numel from which the single-thread
kernel beats NumPy, ``parallel`` the numel from which threads pay for their start-up.
The defaults are declared with each kernel family (``families.py``), measured on a 2-core
x86-64; ``python -m torsh.backends.calibrate`` measures them on the running machine and
caches them (see ``calibration_path``), and that cache is loaded at import.

Records (op, variant, reason, numel, dtype, seconds) are built only while somebody
listens on the ``dispatch`` topic, so an unobserved call pays one dict lookup (a profile
listening alone gets them as raw tuples in its per-thread log, see ``RAW_DECISION``). A record holds
the raw facts of its reason (a template and its numbers, see ``_decide``): the sentence is
worded when somebody reads ``record.reason``, not on the op's path.
"""
import contextlib
import json
import math
import os
import time
from operator import itemgetter

import numpy as np

from . import events, families, kernels, threads
from . import memory  # large outputs come from its pool of recycled buffers

INF = families.INF
TOPIC = "dispatch"

# op -> (simd threshold, parallel threshold), as each family declares them (backend/families.py);
# INF means "never worth it" on the reference machine
thresholds = families.thresholds()

# below this numel NumPy runs the op whatever else holds; checked first, so small ops pay nothing more
_numpy_below = {op: min(limits) for op, limits in thresholds.items()}
thresholds_source = "built-in defaults"


def set_thresholds(op, simd=None, parallel=None):
    """Change when ``op`` moves to the compiled kernels (numel; math.inf for never)."""
    old_simd, old_parallel = thresholds[op]
    thresholds[op] = (old_simd if simd is None else simd, old_parallel if parallel is None else parallel)
    _numpy_below[op] = min(thresholds[op])


def calibration_path():
    """Where calibrated thresholds are cached: $TORSH_CALIBRATION, else the user cache dir."""
    if os.environ.get("TORSH_CALIBRATION"):
        return os.environ["TORSH_CALIBRATION"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "torsh", "dispatch-thresholds.json")


def machine_signature():
    """What a calibration is valid for: thresholds measured elsewhere are not trusted."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernels": sorted(kernels.available())}


def load_calibration(path=None):
    """Use the thresholds cached at ``path`` if they were measured on this machine; True if loaded."""
    global thresholds_source
    path = path or calibration_path()
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return False
    if saved.get("machine") != machine_signature():
        return False
    for op, (simd, parallel) in saved.get("thresholds", {}).items():
        if op in thresholds:
            set_thresholds(op, _from_json(simd), _from_json(parallel))
    thresholds_source = path
    return True


def _from_json(value):
    return INF if value is None else int(value)

_FAMILY = families.family_of()  # op -> the kernel family whose module runs it
_kernel_modules = kernels._modules  # family -> its loaded compiled module (what kernels.get reads)
_NEVER = (INF, INF)
_COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class DispatchRecord(tuple):
    """(op, variant, reason, numel, dtype, seconds) of one decision, as a named tuple.

    ``reason`` may be given as a string or as the raw facts ``_decide`` returns (a template and
    its values): those are worded when ``record.reason`` is read, so that recording a decision
    costs one tuple and no number formatting. ``record[2]`` is the reason as given (raw)."""

    __slots__ = ()
    _fields = ("op", "variant", "reason", "numel", "dtype", "seconds")

    def __new__(cls, op, variant, reason, numel, dtype, seconds):
        return _new_tuple(cls, (op, variant, reason, numel, dtype, seconds))

    op = property(itemgetter(0))
    variant = property(itemgetter(1))
    numel = property(itemgetter(3))
    dtype = property(itemgetter(4))
    seconds = property(itemgetter(5))

    @property
    def reason(self):
        return word(self[2])

    def __iter__(self):  # unpacking sees the worded reason, as the fields do
        return iter((self[0], self[1], self.reason, self[3], self[4], self[5]))

    def _asdict(self):
        return dict(zip(self._fields, self))

    def __repr__(self):
        return "DispatchRecord(" + ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self)) + ")"


_new_tuple = tuple.__new__


def word(why):
    """The sentence of a reason: ``why`` as ``_decide`` returns it (a string, or a template and its
    values), formatted as the f-strings of ``choose`` always did."""
    return why if why.__class__ is str else why[0].format(*why[1:])


NOT_CONTIGUOUS = "operands not contiguous or not of one shape"
# the reasons of the single-thread compiled variant (also worded for the optimizers' direct kernel calls)
AT_SIMD = "numel {0:,} >= simd threshold {1:,}"
AT_SIMD_ONE_THREAD = "numel {0:,} >= simd threshold {1:,}; {2}"


def _decide(op, numel, np_dtype, contiguous=True, layout_reason=NOT_CONTIGUOUS):
    """(variant, why) for running ``op`` on ``numel`` elements of ``np_dtype``; ``why`` is the reason
    unworded (a string, or a template with its values: ``word`` formats it). When ``contiguous`` is
    false the layout rules the kernels out and ``layout_reason`` says why. The parallel threshold
    counts only where several threads may run (threads.single_thread_reason)."""
    family = _FAMILY.get(op, "elementwise")
    if _kernel_modules.get(family) is None:  # kernels.get, one frame less
        return "numpy", ("kernel family {0} not compiled", family)
    if np_dtype not in _COMPILED_DTYPES:
        return "numpy", ("dtype {0} has no compiled kernel", np_dtype)
    if not contiguous:
        return "numpy", layout_reason
    simd, parallel = thresholds.get(op, _NEVER)
    if numel >= parallel:
        single = threads.single_thread_reason()
        if single is None:
            return "pythran_omp", ("numel {0:,} >= parallel threshold {1:,}", numel, parallel)
        if numel >= simd:
            return "pythran_simd", (AT_SIMD_ONE_THREAD, numel, simd, single)
        return "numpy", ("numel {0:,} < simd threshold {1:,}; {2}", numel, simd, single)
    if numel >= simd:
        return "pythran_simd", (AT_SIMD, numel, simd)
    return "numpy", ("numel {0:,} < threshold {1:,}", numel, simd if simd != INF else parallel)


def choose(op, numel, np_dtype, contiguous=True, layout_reason=NOT_CONTIGUOUS):
    """(variant, reason) for running ``op`` on ``numel`` elements of ``np_dtype``; when
    ``contiguous`` is false the layout rules the kernels out and ``layout_reason`` says why.
    The parallel threshold counts only where several threads may run (threads.single_thread_reason)."""
    variant, why = _decide(op, numel, np_dtype, contiguous, layout_reason)
    return variant, word(why)


_dtype_names = {}  # str(np.dtype) costs microseconds in NumPy 2: name each dtype once


def _variant(op, numel, np_dtype, contiguous):
    """The variant ``choose`` picks, without wording its reason: what ``call`` runs when no one
    records (the reason's number formatting cost about as much as the decision itself)."""
    if np_dtype not in _COMPILED_DTYPES or not contiguous or kernels.get(_FAMILY.get(op, "elementwise")) is None:
        return "numpy"
    simd, parallel = thresholds.get(op, (INF, INF))
    if numel >= parallel and threads.single_thread_reason() is None:
        return "pythran_omp"
    return "pythran_simd" if numel >= simd else "numpy"


def _pick(op, numel, np_dtype, contiguous, layout_reason=NOT_CONTIGUOUS):
    """``_decide``'s (variant, why) when records are listened to, else (variant, None)."""
    if TOPIC in events._subscribers:
        return _decide(op, numel, np_dtype, contiguous, layout_reason)
    return _variant(op, numel, np_dtype, contiguous), None


def _dtype_name(np_dtype):
    name = _dtype_names.get(np_dtype)
    if name is None:
        name = _dtype_names[np_dtype] = str(np_dtype)
    return name


def _run(op, variant, why, numel, np_dtype, compiled_call, numpy_call, reference="numpy"):
    subscribers = events._subscribers.get(TOPIC)
    if subscribers is None:
        return numpy_call() if variant == "numpy" else compiled_call(variant == "pythran_omp")
    start = _perf_counter_ns()
    out = numpy_call() if variant == "numpy" else compiled_call(variant == "pythran_omp")
    end = _perf_counter_ns()
    # record_decision inlined (one Python frame less per recorded decision)
    local = _decision_log
    if local is not None and len(subscribers) == 1:
        try:
            local.log.append((RAW_DECISION, op, reference if variant == "numpy" else variant, why, numel, np_dtype,
                              end - start, end))
            return out
        except AttributeError:  # this thread has no log yet: the subscriber's callback makes it
            pass
    _emit(op, reference if variant == "numpy" else variant, why, numel, np_dtype, end - start)
    return out


_perf_counter_ns = time.perf_counter_ns

# Recording decisions, the cheap way. A profiler that records them keeps one flat list per thread (its
# threading.local's ``log``); while it is the only subscriber of TOPIC, a decision is appended there as a raw
# tuple ``(RAW_DECISION, op, variant, why, numel, np_dtype, elapsed_ns, end_ns)`` and its DispatchRecord is
# built when the profile is read (``record_of``); with other subscribers (or on a thread without a log yet)
# every subscriber gets the DispatchRecord, as ``events.emit`` would hand it.
RAW_DECISION = object()
_decision_log = None  # the recording profiler's threading.local, set by log_decisions


def log_decisions(local):
    """Have decisions appended raw to ``local.log`` (this thread's list) while the caller, subscribed to TOPIC,
    is its only subscriber; ``log_decisions(None)`` stops it."""
    global _decision_log
    _decision_log = local


def record_decision(op, variant, why, numel, np_dtype, elapsed_ns, end_ns):
    """Record a decision made and timed outside ``call`` (an optimizer's direct kernel call): ``variant`` as
    records name it, ``why`` raw as ``_decide`` returns it. Only when ``TOPIC`` has subscribers."""
    local = _decision_log
    if local is not None and len(events._subscribers.get(TOPIC, ())) == 1:
        try:
            local.log.append((RAW_DECISION, op, variant, why, numel, np_dtype, elapsed_ns, end_ns))
            return
        except AttributeError:
            pass
    _emit(op, variant, why, numel, np_dtype, elapsed_ns)


def record_of(entry):
    """The DispatchRecord of a raw decision (a ``RAW_DECISION`` tuple)."""
    np_dtype = entry[5]
    return _new_tuple(DispatchRecord, (entry[1], entry[2], entry[3], entry[4],
                                       _dtype_names.get(np_dtype) or _dtype_name(np_dtype), entry[6] * 1e-9))


def _emit(op, variant, why, numel, np_dtype, elapsed_ns):
    dtype = _dtype_names.get(np_dtype) or _dtype_name(np_dtype)
    record = _new_tuple(DispatchRecord, (op, variant, why, numel, dtype, elapsed_ns * 1e-9))
    for callback in events._subscribers.get(TOPIC, ()):
        callback(record)


def unary(op, x, numpy_fn):
    """Apply elementwise ``op`` to ndarray ``x``; ``numpy_fn(x)`` is the reference variant."""
    if x.size < _numpy_below[op] and TOPIC not in events._subscribers:
        return numpy_fn(x)
    contiguous = x.flags.c_contiguous
    variant, why = _pick(op, x.size, x.dtype, contiguous)

    def compiled(parallel):
        out = memory.empty(x.shape, x.dtype)
        getattr(kernels.get(_FAMILY[op]), op)(x.reshape(-1), out.reshape(-1), parallel)
        return out

    return _run(op, variant, why, x.size, x.dtype, compiled, lambda: numpy_fn(x))


def binary(op, a, b, numpy_fn):
    """Apply elementwise ``op`` to ndarrays ``a`` and ``b`` (already of the result dtype)."""
    if a.size < _numpy_below[op] and b.size < _numpy_below[op] and TOPIC not in events._subscribers:
        return numpy_fn(a, b)
    same_layout = (a.shape == b.shape and a.dtype == b.dtype
                   and a.flags.c_contiguous and b.flags.c_contiguous)
    numel = a.size if same_layout else math.prod(np.broadcast_shapes(a.shape, b.shape))
    variant, why = _pick(op, numel, a.dtype, same_layout)

    def compiled(parallel):
        out = memory.empty(a.shape, a.dtype)
        getattr(kernels.get(_FAMILY[op]), op)(a.reshape(-1), b.reshape(-1), out.reshape(-1), parallel)
        return out

    return _run(op, variant, why, numel, a.dtype, compiled, lambda: numpy_fn(a, b))


def reduce_rows(op, x2d, numpy_fn):
    """Reduce each row of a 2-D ndarray; ``numpy_fn(x2d)`` is the reference variant."""
    if x2d.size < _numpy_below[op] and TOPIC not in events._subscribers:  # as unary: small ones pay nothing more
        return numpy_fn(x2d)
    variant, why = _pick(op, x2d.size, x2d.dtype, x2d.flags.c_contiguous and x2d.shape[1] > 0)

    def compiled(parallel):
        out = np.empty(x2d.shape[0], dtype=x2d.dtype)
        getattr(kernels.get(_FAMILY[op]), op)(x2d, out, parallel)
        return out

    return _run(op, variant, why, x2d.size, x2d.dtype, compiled, lambda: numpy_fn(x2d))


def runs_numpy(op, numel):
    """True when ``op`` on ``numel`` elements takes the NumPy variant whatever its layout and no
    one records it, so that callers can skip preparing a kernel call (the check ``call`` makes first)."""
    return numel < _numpy_below[op] and TOPIC not in events._subscribers


def call(op, numel, np_dtype, contiguous, compiled, numpy_fn, layout_reason=NOT_CONTIGUOUS, reference="numpy"):
    """Run ``op`` on the variant chosen for it: ``compiled(parallel)`` or ``numpy_fn()``.

    For ops whose kernels take several operands or several outputs (the nn and optim
    families): the caller checks layout (``contiguous``) and wraps the kernel call itself.
    ``reference`` names the non-compiled variant in records (e.g. "numexpr" for optimizers).
    """
    if TOPIC not in events._subscribers:  # no one records: decide and run, no reason worded, no timing
        if numel < _numpy_below[op]:
            return numpy_fn()
        variant = _variant(op, numel, np_dtype, contiguous)
        return numpy_fn() if variant == "numpy" else compiled(variant == "pythran_omp")
    variant, why = _decide(op, numel, np_dtype, contiguous, layout_reason)
    start = _perf_counter_ns()  # _run inlined: the nn and optim ops' recorded path
    out = numpy_fn() if variant == "numpy" else compiled(variant == "pythran_omp")
    end = _perf_counter_ns()
    local = _decision_log
    if local is not None and len(events._subscribers.get(TOPIC, ())) == 1:
        try:
            local.log.append((RAW_DECISION, op, reference if variant == "numpy" else variant, why, numel, np_dtype,
                              end - start, end))
            return out
        except AttributeError:
            pass
    _emit(op, reference if variant == "numpy" else variant, why, numel, np_dtype, end - start)
    return out


@contextlib.contextmanager
def record():
    """Collect the DispatchRecords of the calls made inside the block into a list."""
    records = []
    unsubscribe = events.subscribe(TOPIC, records.append)
    try:
        yield records
    finally:
        unsubscribe()


def explain(op, numel, dtype="float32", contiguous=True):
    """Say which variant ``op`` would run on ``numel`` elements, and why. For "matmul", ``numel`` is a 2-D
    product's (m, k, n): where it runs (BLAS, the panel GEMM, or that shared on its helper team: threads)."""
    if op == "matmul":
        return threads.explain_gemm(*numel, dtype=dtype)
    variant, reason = choose(op, numel, np.dtype(dtype), contiguous)
    return f"{op}: {variant} ({reason}; thresholds from {thresholds_source})"


if os.environ.get("TORSH_NO_CALIBRATION") != "1":
    load_calibration()
