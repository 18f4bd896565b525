"""Generate, compile and cache a Pythran kernel for a fused elementwise expression.

``torsh.compile(fn, backend="pythran")`` uses this instead of numexpr: numexpr evaluates
transcendental functions without SIMD here, while Pythran's xsimd versions run 3-10x faster.

How the kernel is written matters more than what it computes. Measured on this machine
(1e6 float32, AVX2): the sigmoid ``1/(1+exp(-x))`` written as one Pythran array expression took
9-18 ms, the same split into one statement per operation over cache-sized chunks 2.5 ms,
and ``exp(x)`` alone 0.8 ms. So the generator gives every operation its own statement into a
chunk-sized buffer (one vectorised loop each, the chunk stays in L1/L2), and the chunk loop is
what OpenMP shares among threads.

Modules are cached on disk by a hash of their source and of everything the binary depends on
(Pythran version, flags, Python, CPU), so each expression is compiled once per machine
(~15 s) and later processes load it at once. The cache lives in ``$TORSH_CACHE_DIR/fusion`` or
the user cache dir (``~/.cache/torsh/fusion``).
"""
import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np

from .expr import GRAD, Call, Const, Var

CHUNK = 4096  # elements per chunk: 16 KiB of float32 per buffer, a few buffers fit in L1/L2
PARALLEL_FROM = 8 * CHUNK  # below this a parallel region's start-up outweighs a second thread
FLAGS = ("-O3", "-march=native", "-DUSE_XSIMD", "-fopenmp")  # the cache is per machine, so native

# op -> Pythran text of one vectorisable operation over chunk slices ({c} is a typed constant maker)
_TEMPLATES = {
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}",
    "neg": "-{0}", "exp": "np.exp({0})", "log": "np.log({0})", "sqrt": "np.sqrt({0})",
    "tanh": "np.tanh({0})", "sin": "np.sin({0})", "cos": "np.cos({0})",
    "square": "{0} * {0}", "pow": "np.power({0}, {1})",
    "relu": "np.maximum({0}, {zero})", "gt0": "np.where({0} > {zero}, {one}, {zero})",
    # 1/(1+exp(-x)) does not vectorise in Pythran (see above); tanh does, and this is exact algebra
    "sigmoid": "np.tanh({0} * {half}) * {half} + {half}",
}


class PythranUnavailable(RuntimeError):
    pass


def cache_dir():
    root = os.environ.get("TORSH_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "torsh")
    return os.path.join(root, "fusion")


class KernelSource:
    """Pythran source for one or more fused expressions over flat, equally long operands.

    Each expression becomes two exported functions, ``<name>_serial`` and ``<name>_parallel``
    (the chunk loop under ``#omp parallel for``), taking its inputs, then ``out``.
    """

    def __init__(self, np_dtype):
        self.type_name = np.dtype(np_dtype).name  # float32 / float64
        self.lines = ["import numpy as np", ""]
        self.exports = []

    def add(self, name, expr, n_inputs, with_grad):
        params = [f"x{i}" for i in range(n_inputs)] + (["g"] if with_grad else [])
        signature = ", ".join(f"{self.type_name}[:]" for _ in params + ["out"])
        for mode in ("serial", "parallel"):
            fn = f"{name}_{mode}"
            self.exports.append(f"#pythran export {fn}({signature})")
            self.lines += self._function(fn, expr, params, parallel=mode == "parallel")

    def add_several(self, name, exprs, n_inputs):
        """``name_serial`` / ``name_parallel`` computing every expression of ``exprs`` in one pass
        (shared subexpressions once), into ``out0, out1, ...`` after the inputs."""
        params = [f"x{i}" for i in range(n_inputs)]
        outs = [f"out{k}" for k in range(len(exprs))]
        signature = ", ".join(f"{self.type_name}[:]" for _ in params + outs)
        for mode in ("serial", "parallel"):
            fn = f"{name}_{mode}"
            self.exports.append(f"#pythran export {fn}({signature})")
            self.lines += self._function(fn, exprs, params, parallel=mode == "parallel", outs=outs)

    def text(self):
        return "\n".join(self.exports + [""] + self.lines) + "\n"

    def _function(self, fn, exprs, params, parallel, outs=("out",)):
        if not isinstance(exprs, (list, tuple)):
            exprs = [exprs]
        t = self.type_name
        body = [f"def {fn}({', '.join(list(params) + list(outs))}):",
                f"    n = {outs[0]}.shape[0]"]
        if parallel:
            body.append("    #omp parallel for schedule(static)")
        body += [f"    for c in range(0, n, {CHUNK}):",
                 f"        e = min(c + {CHUNK}, n)",
                 "        m = e - c"]
        names, statements = {}, []
        for out, expr in zip(outs, exprs):
            result = self._statements(expr, t, names, statements)
            statements.append(f"{out}[c:e] = {result}")
        root_value = statements[-1].split(" = ", 1)[1]
        if len(exprs) == 1 and len(statements) >= 3 and statements[-2].startswith(root_value + " = "):
            # a single root computed by the statement before: its value goes straight into the
            # output instead of through a buffer (drops the buffer's allocation and the copy)
            statements = statements[:-3] + [f"{outs[0]}[c:e] = " + statements[-2][len(root_value) + 3:]]
        body += ["        " + s for s in statements]
        body += [f"    return {outs[0]}", ""]
        return body

    def _statements(self, expr, t, names, statements):
        """One statement per Call node (shared subtrees once: ``names`` maps id(node) to its
        buffer), each into its own chunk buffer, appended to ``statements``; returns the text of
        ``expr``'s value."""

        def const(value):
            return f"np.{t}({float(value)!r})"

        def operand(e):
            if isinstance(e, Var):
                return "g[c:e]" if e is GRAD or e.index == -1 else f"x{e.index}[c:e]"
            if isinstance(e, Const):
                return const(e.value)
            if id(e) not in names:
                args = [operand(a) for a in e.args]
                buffer = f"t{len(names)}"
                names[id(e)] = f"{buffer}[:m]"
                text = _TEMPLATES[e.op].format(*args, zero=const(0.0), one=const(1.0), half=const(0.5))
                statements.append(f"{buffer} = np.empty({CHUNK}, np.{t})")
                statements.append(f"{buffer}[:m] = {text}")
            return names[id(e)]

        return operand(expr)


def supported(expr):
    """The ops of ``expr`` all have a Pythran template (the reason as a string if not)."""
    stack, seen = [expr], set()
    while stack:
        e = stack.pop()
        if isinstance(e, Call) and id(e) not in seen:
            seen.add(id(e))
            if e.op not in _TEMPLATES:
                return f"op '{e.op}' has no Pythran template"
            stack.extend(e.args)
    return True


def _cache_key(source):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    import pythran
    material = "\n".join([source, pythran.__version__, " ".join(FLAGS), sys.version,
                          sysconfig.get_config_var("EXT_SUFFIX") or "", cpu])
    return hashlib.sha256(material.encode()).hexdigest()[:20]


def load_module(source):
    """The compiled module for ``source``: from the cache, or compiled now and cached.

    Returns (module, how) where how is "cache" or "compiled". Concurrent processes may both
    compile; each writes to a private temporary name and renames, so the cache never holds a
    partial file.
    """
    try:
        import pythran  # noqa: F401  (only to fail early with a clear message)
    except ImportError as exc:
        raise PythranUnavailable("torsh.compile(backend='pythran') needs the pythran package "
                                 "(pip install pythran) and a C++ compiler") from exc
    key = _cache_key(source)
    module_name = f"torsh_fused_{key}"
    directory = cache_dir()
    path = os.path.join(directory, module_name + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    how = "cache"
    if not os.path.exists(path):
        _compile(source, module_name, directory, path)
        how = "compiled"
    loader = importlib.machinery.ExtensionFileLoader(module_name, path)
    spec = importlib.util.spec_from_file_location(module_name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module, how


def _compile(source, module_name, directory, path):
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as work:
        src = os.path.join(work, module_name + ".py")
        with open(src, "w") as f:
            f.write(source)
        tmp_out = os.path.join(work, os.path.basename(path))
        command = [sys.executable, "-c", "import sys; from pythran.run import run; sys.exit(run())",
                   src, "-o", tmp_out, *FLAGS]
        done = subprocess.run(command, capture_output=True, text=True, cwd=work)
        if done.returncode != 0 or not os.path.exists(tmp_out):
            raise PythranUnavailable(f"torsh.compile(backend='pythran'): compiling the fused kernel failed "
                                     f"(pythran exit {done.returncode}):\n{done.stderr[-2000:]}")
        with open(os.path.join(directory, module_name + ".py"), "w") as f:
            f.write(source)  # kept beside the binary so a user can read what was compiled
        os.replace(tmp_out, path)


class PythranProgram:
    """A callable like NumexprProgram: evaluates its expression over arrays of one shape."""

    def __init__(self, module, name):
        self.serial = getattr(module, f"{name}_serial")
        self.parallel = getattr(module, f"{name}_parallel")

    def __call__(self, arrays, grad=None):
        operands = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
        shape = arrays[0].shape
        if grad is not None:
            operands.append(np.ascontiguousarray(grad).reshape(-1))
        out = np.empty(shape, dtype=operands[0].dtype)
        flat = out.reshape(-1)
        kernel = self.parallel if flat.size >= PARALLEL_FROM else self.serial
        kernel(*operands, flat)
        return out


class PythranPartialsProgram:
    """The expression and its partial derivatives in one pass: returns [value, partial_0, ...]."""

    def __init__(self, module, name, n_outputs):
        self.serial = getattr(module, f"{name}_serial")
        self.parallel = getattr(module, f"{name}_parallel")
        self.n_outputs = n_outputs

    def __call__(self, arrays):
        operands = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
        outs = [np.empty(arrays[0].shape, dtype=operands[0].dtype) for _ in range(self.n_outputs)]
        flat = [o.reshape(-1) for o in outs]
        kernel = self.parallel if flat[0].size >= PARALLEL_FROM else self.serial
        kernel(*operands, *flat)
        return outs
