"""Imports point down the layers (docs/ARCHITECTURE.md, ../shared/DESIGN.md): kernels/backend -> core
(_tensor, _dtype, autograd) -> ops (_ops) -> library (nn, optim, utils, ...) -> tools (profiler, _compile, func,
viz). Parses the package with ``ast``; fails on a module-level import pointing UP, and on a function-local import
of a torsh module, unless allow-listed below. The allow-lists hold the violations of the day the test was written
(each with why): remove entries as they are fixed; never add one without a reason."""
import ast
import collections
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "torsh"
# from the bottom: an import may point to its own layer or below, never up
LAYERS = {
    "kernels": ("torsh._kernels", "torsh.backend"),
    "core": ("torsh._tensor", "torsh._storage", "torsh.storage", "torsh._symbolic", "torsh._tensor_str", "torsh._dtype", "torsh.autograd", "torsh._random",
             "torsh._type_info", "torsh._memory_api", "torsh._layouts", "torsh._array_api", "torsh.return_types",
             "torsh._autocast", "torsh._warnings", "torsh.version", "torsh._quantized", "torsh._meta_array"),
    "ops": ("torsh._ops", "torsh._meta", "torsh.linalg", "torsh.fft", "torsh.special", "torsh._toplevel", "torsh.sparse"),
    "library": ("torsh._settings", "torsh._nn_toplevel", "torsh.jit",
                "torsh.nn", "torsh.optim", "torsh.utils", "torsh.serialization", "torsh._weights_only_unpickler",
                "torsh.distributions", "torsh.amp", "torsh.signal", "torsh.multiprocessing", "torsh.testing",
                "torsh.hub", "torsh.cpu", "torsh.cuda", "torsh.accelerator", "torsh.masked", "torsh.mps", "torsh.xpu",
                "torsh.distributed", "torsh.library", "torsh._op_overloads", "torsh.types", "torsh.ao",
                "torsh.quantization", "torsh.quasirandom", "torsh._higher_order", "torsh._lowrank", "torsh.nested",
                "torsh._lobpcg"),
    "tools": ("torsh.profiler", "torsh._compile", "torsh.compiler", "torsh._dynamo", "torsh.func", "torsh.viz",
              "torsh.backends", "torsh.demo",
              "torsh.onnx", "torsh.autograd.profiler",
              "torsh.fx", "torsh.export"),
}
ORDER = list(LAYERS)
PUBLIC_API = ORDER.index("library")  # ``import torsh`` (the public API) is fine from the library up


def layer_of(module):
    if module == "torsh":
        return PUBLIC_API
    # the longest matching prefix decides: torsh.autograd.profiler is a tool inside the core's package
    matches = [(len(p), rank) for rank, prefixes in enumerate(LAYERS.values()) for p in prefixes
               if module == p or module.startswith(p + ".")]
    return max(matches)[1] if matches else None


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _modules():
    return {(_module_name(p)[0]) for p in ROOT.rglob("*.py")}


def _targets(node, module, is_package, known):
    """The torsh modules an import statement names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name == "torsh" or a.name.startswith("torsh.")]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if not (base == "torsh" or base.startswith("torsh.")):
        return []
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def scan():
    """(upward, local): {(module, target): count} of module-level imports pointing up the layers and of
    function-local imports of torsh modules."""
    known = _modules()
    upward, local = collections.Counter(), collections.Counter()
    for path in sorted(ROOT.rglob("*.py")):
        module, is_package = _module_name(path)
        if module == "torsh":  # the package root is the top: it imports everything
            continue
        tree = ast.parse(path.read_text(), str(path))
        _walk(tree, False, module, is_package, known, upward, local)
    return upward, local


def _walk(node, in_function, module, is_package, known, upward, local):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            for target in _targets(child, module, is_package, known):
                if target == module:
                    continue
                if in_function:
                    local[(module, target)] += 1
                elif (layer_of(target) or 0) > (layer_of(module) or len(ORDER)):
                    upward[(module, target)] += 1
        inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        _walk(child, inner, module, is_package, known, upward, local)


# module-level imports pointing up
ALLOWED_UPWARD = {
}
SAME_LAYER_CYCLE = "same layer, imported at call time: these modules import each other (import cycle)"
DEFERRED_UP = "points up the layers, deferred to call time so that import works (to remove)"
DEFERRED_DOWN = "points down, deferred to call time (import cycle through the package root or heavy module)"
# function-local imports of torsh modules: (module, imported module): why
ALLOWED_LOCAL = {
    ('torsh.profiler._module_scopes', 'torsh.nn.modules.module'): DEFERRED_DOWN,  # nn imports much of torsh
    ('torsh.viz._live', 'torsh.viz._static'): DEFERRED_DOWN,  # _static loads plotly: only when a view is shown
    ('torsh._ops.registry', 'torsh'): DEFERRED_UP,
    ('torsh._random', 'torsh._ops.tensor.creation'): DEFERRED_UP,
    ('torsh._tensor', 'torsh._ops._helpers'): DEFERRED_UP,
    ('torsh._tensor', 'torsh._ops.tensor.creation'): DEFERRED_UP,
    ('torsh._tensor', 'torsh.multiprocessing.reductions'): DEFERRED_UP,
    ('torsh._tensor', 'torsh.serialization'): DEFERRED_UP,
    ('torsh.autograd.engine', 'torsh._ops'): DEFERRED_UP,
    ('torsh.autograd.function', 'torsh._ops.inplace'): DEFERRED_UP,
    ('torsh.autograd.gradcheck', 'torsh._ops.tensor.creation'): DEFERRED_UP,
    ('torsh.autograd.variable', 'torsh._ops.tensor.creation'): DEFERRED_UP,
    ('torsh.backend.memory', 'torsh._tensor'): DEFERRED_UP,
    ('torsh.backend.memory', 'torsh.autograd.graph'): DEFERRED_UP,
    ('torsh._compile.compiled', 'torsh._ops._helpers'): DEFERRED_DOWN,
    ('torsh._compile.numexpr_backend', 'torsh'): DEFERRED_DOWN,
    ('torsh._ops', 'torsh._random'): DEFERRED_DOWN,
    ('torsh._ops', 'torsh._tensor'): DEFERRED_DOWN,
    ('torsh._ops.tensor.conversion', 'torsh._tensor_str'): DEFERRED_DOWN,
    ('torsh._ops.tensor.misc', 'torsh._tensor'): DEFERRED_DOWN,
    ('torsh._ops.nn.embedding', 'torsh.backend.threads'): DEFERRED_DOWN,
    ('torsh._ops.nn.rnn.fused_layer', 'torsh.autograd'): DEFERRED_DOWN,
    ('torsh._ops.registry', 'torsh._tensor'): DEFERRED_DOWN,
    ('torsh._ops.tensor.shape.views', 'torsh._tensor_str'): DEFERRED_DOWN,
    ('torsh.amp.autocast_mode', 'torsh._tensor'): DEFERRED_DOWN,
    ('torsh.amp.grad_scaler', 'torsh._tensor'): DEFERRED_DOWN,
    ('torsh.backends.calibrate', 'torsh'): DEFERRED_DOWN,
    ('torsh.backends.calibrate', 'torsh._ops.nn.activation.softmax'): DEFERRED_DOWN,
    ('torsh.backends.calibrate', 'torsh._ops.nn.norm'): DEFERRED_DOWN,
    ('torsh.backends.calibrate', 'torsh.autograd.grad_mode'): DEFERRED_DOWN,
    ('torsh.backends.calibrate', 'torsh.nn'): DEFERRED_DOWN,
    ('torsh.backends.calibrate', 'torsh.optim._fused'): DEFERRED_DOWN,
    ('torsh.backends.calibrate', 'torsh.optim.adam'): DEFERRED_DOWN,
    ('torsh.backends.calibrate', 'torsh.optim.sgd'): DEFERRED_DOWN,
    ('torsh.cuda', 'torsh._tensor'): DEFERRED_DOWN,
    ('torsh.distributions.utils', 'torsh._ops._helpers'): DEFERRED_DOWN,
    ('torsh.func._eager', 'torsh.autograd.graph'): DEFERRED_DOWN,
    ('torsh.func._functional_call', 'torsh._ops.tensor.shape.views'): DEFERRED_DOWN,
    ('torsh.nn._functional.attention', 'torsh._ops.tensor.shape.views'): DEFERRED_DOWN,
    ('torsh.nn._functional.conv', 'torsh._tensor'): DEFERRED_DOWN,
    ('torsh.nn._functional.loss', 'torsh._ops.nn.ctc_loss'): DEFERRED_DOWN,
    ('torsh.nn._functional.vision', 'torsh._ops.nn.pool'): DEFERRED_DOWN,
    ('torsh.nn.modules.module', 'torsh._ops.tensor.creation'): DEFERRED_DOWN,
    ('torsh.nn.modules.module', 'torsh._tensor'): DEFERRED_DOWN,
    ('torsh.nn.parameter', 'torsh._dtype'): DEFERRED_DOWN,
    ('torsh.nn.utils.fusion', 'torsh._ops.tensor.creation'): DEFERRED_DOWN,
    ('torsh.optim.optimizer', 'torsh._ops.tensor.creation'): DEFERRED_DOWN,
    ('torsh.testing._comparison', 'torsh._ops.tensor.creation'): DEFERRED_DOWN,
    ('torsh.testing._comparison', 'torsh._tensor'): DEFERRED_DOWN,
    ('torsh.utils.checkpoint', 'torsh._tensor'): DEFERRED_DOWN,
    ('torsh.utils.checkpoint', 'torsh.autograd'): DEFERRED_DOWN,
    ('torsh._ops.tensor.fft.transforms', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.fft.transforms', 'torsh._ops.tensor.shape.views'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.indexing.gather_scatter', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.indexing.gather_scatter', 'torsh._ops.tensor.elementwise.arithmetic'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.indexing.gather_scatter', 'torsh._ops.tensor.shape.views'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.indexing.subscript', 'torsh._ops._helpers'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.indexing.subscript', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.indexing.subscript', 'torsh._ops.inplace'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.indexing.subscript', 'torsh._ops.tensor.elementwise.arithmetic'): SAME_LAYER_CYCLE,
    ('torsh._ops.inplace', 'torsh._ops.tensor.elementwise.arithmetic'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.linalg.factorizations', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.linalg.factorizations', 'torsh._ops.tensor.shape.views'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.linalg.core', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.linalg.core', 'torsh._ops.tensor.shape.views'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.linalg.core', 'torsh._ops.tensor.elementwise.arithmetic'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.linalg.core', 'torsh._ops.tensor.elementwise.math_functions'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.misc', 'torsh._ops._helpers'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.misc', 'torsh._ops.tensor.indexing.subscript'): SAME_LAYER_CYCLE,
    ('torsh._ops.nn.loss', 'torsh._ops.nn.activation.softmax'): SAME_LAYER_CYCLE,
    ('torsh._ops.nn.rnn.fused_layer', 'torsh._ops.tensor.shape.views'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.elementwise.arithmetic', 'torsh._ops._helpers'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.elementwise.arithmetic', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.elementwise.arithmetic', 'torsh._ops.tensor.indexing.subscript'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.elementwise.math_functions', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.linalg.products', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.linalg.products', 'torsh._ops.tensor.linalg.core'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.linalg.products', 'torsh._ops.tensor.shape.views'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.reduction.reductions', 'torsh._ops.tensor.elementwise.arithmetic'): SAME_LAYER_CYCLE,
    ('torsh._ops.registry', 'torsh._ops.inplace'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.scan', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.scan', 'torsh._ops.tensor.elementwise.arithmetic'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.shape.views', 'torsh._ops._helpers'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.shape.views', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.shape.rearrange', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.shape.rearrange', 'torsh._ops.tensor.indexing.gather_scatter'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.sorting', 'torsh._ops.tensor.creation'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.sorting', 'torsh._ops.tensor.elementwise.arithmetic'): SAME_LAYER_CYCLE,
    ('torsh._ops.tensor.sorting', 'torsh._ops.tensor.shape.views'): SAME_LAYER_CYCLE,
    ('torsh._ops.surface', 'torsh._ops.tensor.elementwise.arithmetic'): SAME_LAYER_CYCLE,
    ('torsh._tensor', 'torsh._tensor_str'): SAME_LAYER_CYCLE,
    ('torsh._tensor', 'torsh.autograd.graph'): SAME_LAYER_CYCLE,
    ('torsh._tensor_str', 'torsh.autograd.grad_mode'): SAME_LAYER_CYCLE,
    ('torsh.amp.autocast_mode', 'torsh'): SAME_LAYER_CYCLE,
    ('torsh.amp.grad_scaler', 'torsh'): SAME_LAYER_CYCLE,
    ('torsh.autograd.engine', 'torsh.autograd.graph'): SAME_LAYER_CYCLE,
    ('torsh.autograd.function', 'torsh._tensor'): SAME_LAYER_CYCLE,
    ('torsh.autograd.functional', 'torsh._tensor'): SAME_LAYER_CYCLE,
    ('torsh.autograd.gradcheck', 'torsh._random'): SAME_LAYER_CYCLE,
    ('torsh.autograd.gradcheck', 'torsh.autograd.engine'): SAME_LAYER_CYCLE,
    ('torsh.autograd.graph', 'torsh._tensor_str'): SAME_LAYER_CYCLE,
    ('torsh.cpu.amp', 'torsh'): SAME_LAYER_CYCLE,
    ('torsh.hub', 'torsh.serialization'): SAME_LAYER_CYCLE,
    ('torsh.multiprocessing.reductions', 'torsh.nn.parameter'): SAME_LAYER_CYCLE,
    ('torsh.nn._functional.attention', 'torsh.nn._functional.vision'): SAME_LAYER_CYCLE,
    ('torsh.nn._functional.conv', 'torsh'): SAME_LAYER_CYCLE,
    ('torsh.nn._functional.normalization', 'torsh.nn._functional.pooling'): SAME_LAYER_CYCLE,
    ('torsh.nn._functional.normalization', 'torsh.nn._functional.vision'): SAME_LAYER_CYCLE,
    ('torsh.nn._functional.vision', 'torsh.nn._functional.pooling'): SAME_LAYER_CYCLE,
    ('torsh.nn.modules.activation', 'torsh.nn.init'): SAME_LAYER_CYCLE,
    ('torsh.nn.modules.module', 'torsh.nn.modules._backward_hook'): SAME_LAYER_CYCLE,
    ('torsh.nn.modules.module', 'torsh.nn.modules.container'): SAME_LAYER_CYCLE,
    ('torsh.nn.modules.pooling', 'torsh.nn._functional._utils'): SAME_LAYER_CYCLE,
    ('torsh.nn.utils.parametrizations', 'torsh.nn.modules.conv'): SAME_LAYER_CYCLE,
    ('torsh.nn.utils.weight_norm', 'torsh.nn.modules.conv'): SAME_LAYER_CYCLE,
    ('torsh.profiler.execution_trace', 'torsh.profiler.profiler'): SAME_LAYER_CYCLE,
    ('torsh.profiler.function_events', 'torsh.profiler.key_averages'): SAME_LAYER_CYCLE,
    ('torsh.profiler.function_events', 'torsh.profiler.stacks'): SAME_LAYER_CYCLE,
    ('torsh.serialization', 'torsh.nn.parameter'): SAME_LAYER_CYCLE,
    ('torsh.testing._comparison', 'torsh'): SAME_LAYER_CYCLE,
    ('torsh.testing._creation', 'torsh'): SAME_LAYER_CYCLE,
    ('torsh.utils.checkpoint', 'torsh.amp.autocast_mode'): SAME_LAYER_CYCLE,
    ('torsh.utils.checkpoint', 'torsh.nn'): SAME_LAYER_CYCLE,
    ('torsh.utils.data._utils.collate', 'torsh'): SAME_LAYER_CYCLE,
    ('torsh.utils.data._utils.worker', 'torsh'): SAME_LAYER_CYCLE,
    ('torsh.utils.safetensors', 'torsh.serialization'): SAME_LAYER_CYCLE,
    ('torsh.utils.tensorboard._convert', 'torsh'): SAME_LAYER_CYCLE,
    ('torsh.utils.tensorboard.summary', 'torsh'): SAME_LAYER_CYCLE,
    ('torsh.viz', 'torsh.viz.magics'): SAME_LAYER_CYCLE,
    ('torsh.viz._live', 'torsh.viz._figure'): SAME_LAYER_CYCLE,
    ('torsh.viz.magics', 'torsh.profiler'): SAME_LAYER_CYCLE,
    ('torsh.viz.magics', 'torsh.viz._trace_view'): SAME_LAYER_CYCLE,
    ('torsh.viz.magics', 'torsh.viz.memory_view'): SAME_LAYER_CYCLE,
    ('torsh.viz.magics', 'torsh.viz.stats'): SAME_LAYER_CYCLE,
}


def test_imports_point_down_the_layers():
    upward, local = scan()
    print(f"module-level upward imports: {sum(upward.values())} ({len(ALLOWED_UPWARD)} allow-listed); "
          f"function-local torsh imports: {sum(local.values())} in {len(local)} module pairs "
          f"({len(ALLOWED_LOCAL)} allow-listed)")
    assert sorted(set(upward) - set(ALLOWED_UPWARD)) == [], "an import points up the layers"
    assert sorted(set(local) - set(ALLOWED_LOCAL)) == [], "a new function-local import of a torsh module"


def test_allow_lists_only_tighten():
    """An allow-listed import that is gone must leave the list (so it cannot come back silently)."""
    upward, local = scan()
    present = _modules()  # (an entry of a module still being written elsewhere counts once it lands)
    assert sorted(k for k in set(ALLOWED_UPWARD) - set(upward) if k[0] in present) == []
    assert sorted(k for k in set(ALLOWED_LOCAL) - set(local) if k[0] in present) == []


def test_the_layer_map_covers_every_module():
    assert sorted(m for m in _modules() if m != "torsh" and layer_of(m) is None) == []
    assert layer_of("torsh._ops.tensor.elementwise.arithmetic") > layer_of("torsh._tensor") > layer_of("torsh.backend.dispatch")
