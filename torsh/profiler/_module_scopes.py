"""``with_modules=True``: every ``nn.Module`` call recorded as a scope, named as PyTorch names it.

PyTorch's Python tracer (``with_stack=True``) records module calls as ``cat: python_function``
events named ``nn.Module: Linear_0``: the class name, then the index of that instance among the
modules of that class in order of first call. torsh records just these scopes, when the profile
asks ``with_modules=True``, through global forward pre-hooks / hooks registered only while it
records. Each scope name also gets the module's dotted path (``collector.module_paths``:
``"2.fc"``; ``""`` for an outermost module), read by ``torsh.viz.module_view``.
"""
import threading
import time

MODULE_PREFIX = "nn.Module: "
CATEGORY = "python_function"


class ModuleScopes:
    def __init__(self, collector):
        self.collector = collector
        self.names = {}  # id(module) -> scope name ("Linear_0")
        self.modules = []  # the modules named, kept so their ids stay unique while recording
        self.per_class = {}  # class name -> instances named so far
        self.handles = []
        self._local = threading.local()  # .open: this thread's open scopes, [(module, name, path)]

    def start(self):
        from ..nn.modules import module as nn_module  # upward import, at start: nn imports much of torsh
        self.handles = [nn_module.register_module_forward_pre_hook(self._enter),
                        nn_module.register_module_forward_hook(self._exit)]

    def stop(self):
        for handle in self.handles:
            handle.remove()
        self.handles = []
        self.modules = []
        self._local = threading.local()

    def _open(self):
        try:
            return self._local.open
        except AttributeError:
            self._local.open = []
            return self._local.open

    def _scope_name(self, module, parent):
        name = self.names.get(id(module))
        if name is None:
            kind = type(module).__name__
            index = self.per_class.get(kind, 0)
            self.per_class[kind] = index + 1
            name = self.names[id(module)] = f"{kind}_{index}"
            self.modules.append(module)
            self.collector.module_paths[name] = _path(module, parent, name)
        return name

    def _enter(self, module, args):
        scopes = self._open()
        name = self._scope_name(module, scopes[-1] if scopes else None)
        scopes.append((module, name, self.collector.module_paths[name]))
        self.collector._log().append((self.collector.SCOPE, MODULE_PREFIX + name, time.perf_counter_ns()))

    def _exit(self, module, args, result):
        now = time.perf_counter_ns()
        scopes = self._open()
        for index in range(len(scopes) - 1, -1, -1):
            if scopes[index][0] is module:
                break
        else:  # the scope opened before the profile started
            return
        # scopes above it are modules whose forward raised (no forward hook ran): they end here too
        log = self.collector._log()
        for _ in range(len(scopes) - index):
            log.append((self.collector.SCOPE_END, now))
        del scopes[index:]


def _path(module, parent, name):
    """The dotted path of ``module`` under the innermost module scope open (its attribute name there)."""
    if parent is None:
        return ""
    parent_module, _, parent_path = parent
    attribute = next((key for key, child in parent_module._modules.items() if child is module), name)
    return attribute if not parent_path else f"{parent_path}.{attribute}"
