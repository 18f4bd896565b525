"""``torch.export.ExportedProgram``: the traced graph with its parameters, buffers and constants lifted to
inputs, the signature saying which placeholder is which, and ``module()``: a GraphModule running it on the
user's inputs, checking them against the exported shapes first (PyTorch's guards and their messages)."""
import copy

import torsh
from ..fx.graph import Graph
from ..fx.graph_module import GraphModule
from ..utils import _pytree
from . import _decompositions
from .dynamic_shapes import int_oo
from .graph_signature import ExportGraphSignature, InputKind, TensorArgument

__all__ = ["ExportedProgram"]


class ExportedProgram:
    """What ``torch.export.export`` returns. Call ``module()`` to run it."""

    def __init__(self, root, graph, graph_signature, state_dict, range_constraints, module_call_graph=None,
                 example_inputs=None, constants=None, *, verifiers=None, in_spec=None, out_spec=None,
                 input_guards=None):
        self._graph_module = root if isinstance(root, GraphModule) else GraphModule(torsh.nn.Module(), graph,
                                                                                    "GraphModule")
        self._graph_signature = graph_signature
        self._state_dict = state_dict
        self._range_constraints = range_constraints
        self._module_call_graph = module_call_graph or []
        self._example_inputs = example_inputs
        self._constants = constants or {}
        self._in_spec, self._out_spec = in_spec, out_spec
        self._input_guards = input_guards or []  # per flat user input: (name, per-dim size or Symbol) or None

    # -- what it holds ---------------------------------------------------------------------------------
    @property
    def graph_module(self):
        return self._graph_module

    @property
    def graph(self):
        return self._graph_module.graph

    @property
    def graph_signature(self):
        return self._graph_signature

    @property
    def state_dict(self):
        return self._state_dict

    @property
    def constants(self):
        return self._constants

    @property
    def tensor_constants(self):
        return self._constants

    @property
    def range_constraints(self):
        return self._range_constraints

    @property
    def module_call_graph(self):
        return self._module_call_graph

    @property
    def example_inputs(self):
        return self._example_inputs

    @property
    def call_spec(self):
        return _CallSpec(self._in_spec, self._out_spec)

    @property
    def verifier(self):
        return None

    @property
    def dialect(self):
        return "TRAINING"

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def named_parameters(self):
        for name in self._graph_signature.parameters:
            yield name, self._state_dict[name]

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    def named_buffers(self):
        non_persistent = set(self._graph_signature.non_persistent_buffers)
        for name in self._graph_signature.buffers:
            yield name, (self._constants[name] if name in non_persistent else self._state_dict[name])

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Unable to call ExportedProgram directly. You should use `exported_program.module()` "
                           "instead.")

    def __str__(self):
        code = self._graph_module.print_readable(print_output=False).replace("\n", "\n    ")
        signature = str(self._graph_signature).replace("\n", "\n    ")
        return (f"ExportedProgram:\n    {code}\nGraph signature: {signature}\n"
                f"Range constraints: {self._range_constraints}\n")

    def __repr__(self):
        return str(self)

    # -- running it -------------------------------------------------------------------------------------
    def module(self, *, check_guards=True):
        """A GraphModule taking the user inputs as the exported module took them: the lifted parameters,
        buffers and constants become its attributes again."""
        root = torsh.nn.Module()
        specs = self._graph_signature.input_specs
        tensors = {}
        for spec in specs:
            if spec.kind == InputKind.PARAMETER:
                tensors[spec.target] = ("parameter", self._state_dict[spec.target])
            elif spec.kind == InputKind.BUFFER:
                value = self._constants[spec.target] if not spec.persistent else self._state_dict[spec.target]
                tensors[spec.target] = ("buffer", value, spec.persistent)
            elif spec.kind == InputKind.CONSTANT_TENSOR:
                tensors[spec.target] = ("constant", self._constants[spec.target])
        for target, entry in tensors.items():
            owner, name = _make_owner(root, target)
            if entry[0] == "parameter":
                value = entry[1]
                owner.register_parameter(name, value if isinstance(value, torsh.nn.Parameter)
                                         else torsh.nn.Parameter(value, requires_grad=value.requires_grad))
            elif entry[0] == "buffer":
                owner.register_buffer(name, entry[1], persistent=entry[2])
            else:
                setattr(owner, name, entry[1])
        graph = Graph()
        env = {}
        lifted = {spec.arg.name: spec.target for spec in specs if spec.kind != InputKind.USER_INPUT}
        for node in self.graph.nodes:
            if node.op == "placeholder" and node.name in lifted:
                env[node] = graph.get_attr(lifted[node.name])
                env[node].meta = dict(node.meta)
            elif node.op == "placeholder":
                env[node] = graph.create_node("placeholder", node.target, (), {}, node.name)
                env[node].meta = dict(node.meta)
            else:
                env[node] = graph.node_copy(node, lambda n: env[n])
        gm = _UnliftedModule(root, graph, "GraphModule")
        gm._exported = (self._in_spec, self._out_spec, self._input_guards if check_guards else [])
        gm.register_forward_pre_hook(_flatten_and_check, with_kwargs=True)
        gm.register_forward_hook(_unflatten_outputs)
        return gm

    def run_decompositions(self, decomp_table=None, decompose_custom_triton_ops=False):
        """A copy lowered further towards core ATen: ``aten.linear`` on a matrix becomes ``permute`` +
        ``addmm`` (``mm`` without bias), as PyTorch's default decompositions; other ops are kept."""
        graph = Graph()
        env = {}
        for node in self.graph.nodes:
            rule = _decompositions.rule_for(node, decomp_table)
            if rule is not None:
                env[node] = rule(graph, node, lambda n: env[n])
            else:
                env[node] = graph.node_copy(node, lambda n: env[n])
        return ExportedProgram(None, graph, copy.deepcopy(self._graph_signature), self._state_dict,
                               self._range_constraints, self._module_call_graph, self._example_inputs,
                               self._constants, in_spec=self._in_spec, out_spec=self._out_spec,
                               input_guards=self._input_guards)

    def validate(self):
        self.graph.lint()


class _CallSpec:
    def __init__(self, in_spec, out_spec):
        self.in_spec, self.out_spec = in_spec, out_spec


class _UnliftedModule(GraphModule):
    """``ExportedProgram.module()``'s class: a GraphModule whose ``train()``/``eval()`` PyTorch forbids."""

    def train(self, mode=True):
        raise NotImplementedError("Calling train() is not supported yet.")

    def eval(self):
        raise NotImplementedError("Calling eval() is not supported yet.")


def _make_owner(root, target):
    owner = root
    *path, name = target.split(".")
    for part in path:
        child = getattr(owner, part, None) if part in owner._modules else None
        if child is None:
            child = torsh.nn.Module()
            owner.add_module(part, child)
        owner = child
    return owner, name


def _flatten_and_check(module, args, kwargs):
    """The pre-hook: the inputs flattened as exported (ValueError for another structure) and checked against
    the exported shapes (AssertionError ``Guard failed: x.size()[1] == 4``, as PyTorch's guards)."""
    in_spec, _, guards = module._exported
    flat, spec = _pytree.tree_flatten((tuple(args), dict(kwargs)))
    if in_spec is not None and spec != in_spec:
        raise ValueError(f"Trying to flatten user inputs with exported input tree spec: \n{in_spec}\n"
                         f"but actually got inputs with tree spec of: \n{spec}.\nPlease check that the inputs "
                         "have the same number and type of args and kwargs as the ones you used when tracing.")
    seen = {}
    for value, guard in zip(flat, guards):
        if guard is None:
            continue
        name, sizes = guard
        if isinstance(sizes, _Constant):  # a non-tensor input the program was specialized on
            if not (type(value) is type(sizes.value) and value == sizes.value):
                raise AssertionError(f"Guard failed: {name} == {sizes.value!r}")
            continue
        if not isinstance(value, torsh.Tensor):
            raise AssertionError(f"Guard failed: isinstance({name}, torch.Tensor)")
        if value.dim() != len(sizes):
            raise AssertionError(f"Guard failed: {name}.dim() == {len(sizes)}")
        for d, expected in enumerate(sizes):
            actual = value.shape[d]
            if isinstance(expected, int):
                if actual != expected:
                    raise AssertionError(f"Guard failed: {name}.size()[{d}] == {expected}")
                continue
            low, high = expected.range.lower, expected.range.upper
            if actual < low:
                raise AssertionError(f"Guard failed: {name}.size()[{d}] >= {low}")
            if high is not int_oo and actual > high:
                raise AssertionError(f"Guard failed: {name}.size()[{d}] <= {high}")
            first = seen.setdefault(expected.name, (f"{name}.size()[{d}]", actual))
            if first[1] != actual:
                raise AssertionError(f"Guard failed: {name}.size()[{d}] == {first[0]}")
    return tuple(flat), {}


class _Constant:
    """The guard of a non-tensor user input: it must equal the example's value."""

    def __init__(self, value):
        self.value = value


def _unflatten_outputs(module, args, output):
    out_spec = module._exported[1]
    if out_spec is None:
        return output
    return _pytree.tree_unflatten(list(output), out_spec)


def build(state, input_specs, output_specs, in_spec, out_spec, params, buffers, example_inputs, symbols_of,
          original_params, original_buffers):
    """The ExportedProgram of a finished trace; its state_dict holds the module's own tensors."""
    non_persistent = {s.target for s in input_specs if s.kind == InputKind.BUFFER and not s.persistent}
    state_dict, constants = {}, {}
    for name, value in original_params.items():
        state_dict[name] = value
    for name, value in original_buffers.items():
        (constants if name in non_persistent else state_dict)[name] = value
    constants.update(state.constants)
    range_constraints = {}
    for symbol, _, _ in state.symbols:
        range_constraints.setdefault(symbol, symbol.range)
    guards = []
    lifted = {spec.arg.name for spec in input_specs if spec.kind != InputKind.USER_INPUT}
    user_nodes = [n for n in state.graph.nodes if n.op == "placeholder" and n.name not in lifted]
    user_specs = [spec for spec in input_specs if spec.kind == InputKind.USER_INPUT]
    for spec, node in zip(user_specs, user_nodes):
        guards.append((node.target, node.meta["val"].shape) if isinstance(spec.arg, TensorArgument)
                      else (node.target, _Constant(spec.arg.value)))
    gm = GraphModule(torsh.nn.Module(), state.graph, "GraphModule")
    signature = ExportGraphSignature(input_specs, output_specs)
    return ExportedProgram(gm, state.graph, signature, state_dict, range_constraints, None, example_inputs,
                           constants, in_spec=in_spec, out_spec=out_spec, input_guards=guards)

