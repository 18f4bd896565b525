"""nn modules call their functional op directly (``F.max_pool2d(...)`` written out, as PyTorch's modules do), and
the profiler still sees the call: the op-call hook swaps ``torsh.nn.functional``'s bindings while it listens, and a
module reads ``F.<name>`` at call time."""
import ast
import pathlib

import pytest

import torsh

from helpers import needs_torch, torch_ref

MODULES = pathlib.Path(torsh.__file__).parent / "nn" / "modules"

# (module, constructor args, input shape, the aten op both PyTorch and torsh record for its forward)
SAME_NAME_IN_PYTORCH = [
    ("MaxPool1d", (2,), (1, 2, 8), "aten::max_pool1d"),
    ("MaxPool2d", (2,), (1, 2, 6, 6), "aten::max_pool2d"),
    ("MaxPool3d", (2,), (1, 2, 4, 4, 4), "aten::max_pool3d"),
    ("AvgPool1d", (2,), (1, 2, 8), "aten::avg_pool1d"),
    ("AvgPool2d", (2,), (1, 2, 6, 6), "aten::avg_pool2d"),
    ("AvgPool3d", (2,), (1, 2, 4, 4, 4), "aten::avg_pool3d"),
    ("AdaptiveAvgPool1d", (3,), (1, 2, 8), "aten::adaptive_avg_pool1d"),
    ("AdaptiveAvgPool2d", (3,), (1, 2, 6, 6), "aten::adaptive_avg_pool2d"),
    ("AdaptiveAvgPool3d", (2,), (1, 2, 4, 4, 4), "aten::adaptive_avg_pool3d"),
    ("AdaptiveMaxPool1d", (3,), (1, 2, 8), "aten::adaptive_max_pool1d"),
    ("AdaptiveMaxPool2d", (3,), (1, 2, 6, 6), "aten::adaptive_max_pool2d"),
    ("AdaptiveMaxPool3d", (2,), (1, 2, 4, 4, 4), "aten::adaptive_max_pool3d"),
    ("FractionalMaxPool2d", (2, 3), (1, 2, 6, 6), "aten::fractional_max_pool2d"),
    ("FractionalMaxPool3d", (2, 3), (1, 2, 6, 6, 6), "aten::fractional_max_pool3d"),
    ("Conv1d", (2, 3, 2), (1, 2, 8), "aten::conv1d"),
    ("Conv2d", (2, 3, 2), (1, 2, 6, 6), "aten::conv2d"),
    ("Conv3d", (2, 3, 2), (1, 2, 4, 4, 4), "aten::conv3d"),
    ("ConvTranspose1d", (2, 3, 2), (1, 2, 8), "aten::conv_transpose1d"),
    ("ConvTranspose2d", (2, 3, 2), (1, 2, 6, 6), "aten::conv_transpose2d"),
    ("ConvTranspose3d", (2, 3, 2), (1, 2, 4, 4, 4), "aten::conv_transpose3d"),
    ("Dropout", (0.5,), (4, 4), "aten::dropout"),
    ("AlphaDropout", (0.5,), (4, 4), "aten::alpha_dropout"),
    ("FeatureAlphaDropout", (0.5,), (1, 2, 3, 4), "aten::feature_alpha_dropout"),
    ("ReLU", (), (4, 4), "aten::relu"),
    ("Sigmoid", (), (4, 4), "aten::sigmoid"),
    ("Tanh", (), (4, 4), "aten::tanh"),
]
# forwards PyTorch records under another (decomposed) name: torsh records the functional op the module calls
OWN_NAME = [
    ("LPPool1d", (2, 2), (1, 2, 8), "aten::lp_pool1d"),
    ("LPPool2d", (2, 2), (1, 2, 6, 6), "aten::lp_pool2d"),
    ("LPPool3d", (2, 2), (1, 2, 4, 4, 4), "aten::lp_pool3d"),
    ("Dropout1d", (0.5,), (2, 3, 4), "aten::dropout1d"),
    ("Dropout2d", (0.5,), (1, 2, 3, 4), "aten::dropout2d"),
    ("Dropout3d", (0.5,), (1, 2, 3, 3, 3), "aten::dropout3d"),
    ("Tanhshrink", (), (4, 4), "aten::tanhshrink"),
    ("Softsign", (), (4, 4), "aten::softsign"),
    ("LogSigmoid", (), (4, 4), "aten::logsigmoid"),
]


def _profiled_count(lib, name, args, shape, op):
    module = getattr(lib.nn, name)(*args)
    x = lib.randn(*shape)
    with lib.profiler.profile() as prof:
        module(x)
    return {avg.key: avg.count for avg in prof.key_averages()}.get(op, 0)


@needs_torch
@pytest.mark.parametrize("name, args, shape, op", SAME_NAME_IN_PYTORCH, ids=[c[0] for c in SAME_NAME_IN_PYTORCH])
def test_a_profiled_module_forward_shows_its_aten_op_as_pytorch(name, args, shape, op):
    assert _profiled_count(torsh, name, args, shape, op) == _profiled_count(torch_ref, name, args, shape, op) == 1


@pytest.mark.parametrize("name, args, shape, op", OWN_NAME, ids=[c[0] for c in OWN_NAME])
def test_a_profiled_module_forward_shows_its_functional_op(name, args, shape, op):
    assert _profiled_count(torsh, name, args, shape, op) == 1


def test_the_functional_op_is_looked_up_at_call_time():
    """A replaced ``F.max_pool2d`` (what the op-call hook does while it listens) is the one the module calls."""
    F = torsh.nn.functional
    seen = []
    original = F.max_pool2d
    F.max_pool2d = lambda *a, **k: seen.append(a[1:]) or original(*a, **k)
    try:
        torsh.nn.MaxPool2d(2, stride=1)(torsh.ones(1, 1, 4, 4))
    finally:
        F.max_pool2d = original
    assert seen == [(2, 1, 0, 1)]


def test_modules_name_no_functional_op_by_string():
    """No ``getattr(F, "<name>")`` in torsh/nn/modules: each module writes its op out."""
    found = []
    for path in sorted(MODULES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                    and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "F":
                found.append(f"{path.name}:{node.lineno}")
    assert found == []
