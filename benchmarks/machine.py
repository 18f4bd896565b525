"""What the numbers were measured on: they mean little without it."""
import os
import platform


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
    """{field: value} for the machine and the versions of ``libraries`` ({name: module or None})."""
    info = {"nproc": os.cpu_count(), "cpu": cpu_model(), "python": platform.python_version()}
    for name, module in libraries.items():
        info[name] = getattr(module, "__version__", "n/a") if module is not None else "n/a"
    # other work on the machine skews 2-thread timings most; the 1-minute load says how much there was
    info["load_average_1min"] = round(os.getloadavg()[0], 2)
    info["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    return info
