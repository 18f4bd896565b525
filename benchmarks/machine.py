"""What the numbers were measured on: they mean little without it."""
import ctypes
import ctypes.util
import os
import platform

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
malloc_setting = "glibc defaults"


def keep_freed_memory():
    """Make glibc keep freed blocks in the process instead of returning them to the kernel.

    On this VM a page fault costs ~5 us (a fresh 8 MB buffer filled in 10 ms, a reused one in
    0.18 ms), so whichever library happens to hand a large block back to the kernel pays ~20x
    its compute to touch the next one. Which one does depends on glibc's adaptive thresholds and
    on what ran before (PyTorch's W5 forward measured 2.7 ms or 15 ms in the same process
    minutes apart). Fixing the thresholds removes that noise for every library alike."""
    global malloc_setting
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name)
    if not hasattr(libc, "mallopt"):
        return False
    ok = libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30) and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 31)
    if ok:
        malloc_setting = "freed memory kept (mallopt: mmap threshold 1 GiB, trim threshold 2 GiB)"
    return bool(ok)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe(libraries):
    """{field: value} for the machine and the versions of ``libraries`` ({name: module, version
    string (the solo harness gets them from its workers) or None})."""
    info = {"nproc": os.cpu_count(), "cpu": cpu_model(), "python": platform.python_version()}
    for name, module in libraries.items():
        if isinstance(module, str):
            info[name] = module
        else:
            info[name] = getattr(module, "__version__", "n/a") if module is not None else "n/a"
    # other work on the machine skews 2-thread timings most; the 1-minute load says how much there was
    info["load_average_1min"] = round(os.getloadavg()[0], 2)
    info["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    info["malloc"] = malloc_setting
    return info
