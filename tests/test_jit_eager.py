"""torch.jit as PyTorch runs it with scripting disabled: script/trace return what they get, model code written
for TorchScript runs eagerly with the same results as PyTorch's scripted/traced versions."""
import typing
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch


class _Gate:
    """A small model written for TorchScript (decorators, annotations, a data-dependent branch)."""

    @staticmethod
    def build(lib):
        class Gate(lib.nn.Module):
            scale: lib.jit.Final[float]

            def __init__(self):
                super().__init__()
                self.linear = lib.nn.Linear(4, 3)
                self.scale = 2.0

            @lib.jit.ignore
            def debug(self, x):
                return x

            @lib.jit.unused
            def never(self, x):
                raise AssertionError("not called")

            @lib.jit.export
            def half(self, x):
                return x * 0.5

            def forward(self, x):
                y = self.linear(x)
                if bool(y.sum() > 0):
                    y = y * self.scale
                if not lib.jit.is_scripting():
                    y = self.debug(y)
                return lib.jit.annotate(lib.Tensor, y)

        lib.manual_seed(0)
        model = Gate()
        with lib.no_grad():
            model.linear.weight.copy_(lib.tensor(np.arange(12.0).reshape(3, 4) / 10 - 0.5, dtype=lib.float32))
            model.linear.bias.fill_(0.1)
        return model


def _inputs(lib):
    return lib.tensor(np.linspace(-1, 1, 8).reshape(2, 4), dtype=lib.float32)


@pytest.mark.parametrize("api", ["script", "trace"])
def test_scripted_or_traced_model_matches_pytorch(api):
    def run(lib):
        model = _Gate.build(lib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            compiled = lib.jit.script(model) if api == "script" else lib.jit.trace(model, _inputs(lib))
        out = compiled(_inputs(lib))
        out.sum().backward()
        return out, model.linear.weight.grad, compiled.half(out)

    for ours, ref in zip(run(torsh), run(torch_ref)):
        assert_close(ours, ref)


def _double(x):
    return x * 2


def test_script_returns_the_object_and_warns_like_pytorch():
    def f(x):
        return x * 2

    model = torsh.nn.Linear(2, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert torsh.jit.script(f) is f
        assert torsh.jit.trace(model, torsh.ones(1, 2)) is model
        assert torsh.jit.trace_module(model, {"forward": torsh.ones(1, 2)}) is model
    with warnings.catch_warnings(record=True) as ref_caught:
        warnings.simplefilter("always")
        torch_ref.jit.script(_double)
        torch_ref.jit.trace(torch_ref.nn.Linear(2, 2), torch_ref.ones(1, 2))
        torch_ref.jit.trace_module(torch_ref.nn.Linear(2, 2), {"forward": torch_ref.ones(1, 2)})
    ours = [str(w.message) for w in caught if w.category is DeprecationWarning]
    ref = [str(w.message) for w in ref_caught if w.category is DeprecationWarning]
    assert set(ours) == set(ref) and len(set(ours)) == 3
    assert torsh.jit.is_scripting() is False and torsh.jit.is_tracing() is False


def test_decorators_return_the_function():
    def f(x):
        return x

    assert torsh.jit.ignore(f) is f
    assert torsh.jit.ignore(drop=False)(f) is f
    assert torsh.jit.unused(f) is f
    assert torsh.jit.export(f) is f
    assert torsh.jit.script_if_tracing(f) is f
    assert torsh.jit.annotate(typing.List[int], [1]) == [1]
    assert torsh.jit.Attribute(3, int) == 3


@pytest.mark.parametrize("value, target", [
    ([1, 2], typing.List[int]), ([1, "a"], typing.List[int]), ({"a": 1}, typing.Dict[str, int]),
    ({"a": "b"}, typing.Dict[str, int]), ((1, "a"), typing.Tuple[int, str]), ((1,), typing.Tuple[int, str]),
    (None, typing.Optional[int]), (3, typing.Optional[int]), ("x", typing.Optional[int]), (3, (str, int)),
    ([[1], [2]], typing.List[typing.List[int]]), (1.0, float), ([1], list[int]),
])
def test_isinstance_refines_containers_like_pytorch(value, target):
    assert torsh.jit.isinstance(value, target) == torch_ref.jit.isinstance(value, target)


@pytest.mark.parametrize("call", [
    lambda lib: lib.jit.isinstance([1], [list]),
    lambda lib: lib.jit.ignore(drop=3),
    lambda lib: lib.jit.interface(lambda x: x),
    lambda lib: lib.jit.freeze(3),
    lambda lib: lib.jit.optimize_for_inference(3),
])
def test_errors_match_pytorch(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        check_same_error(call)


def test_freeze_and_optimize_for_inference_keep_an_eval_module():
    """torsh's script returns the module itself, so freezing takes a plain module (PyTorch would want the
    ScriptModule its script made), with PyTorch's eval-mode check."""
    model = torsh.nn.Linear(2, 2).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(RuntimeError, match="only implemented for modules in eval mode"):
            torsh.jit.freeze(torsh.nn.Linear(2, 2))
        assert torsh.jit.freeze(model) is model
        trained = torsh.nn.Linear(2, 2)
        assert torsh.jit.optimize_for_inference(trained) is trained and not trained.training


def test_fusion_settings_round_trip_like_pytorch():
    previous = torsh.jit.set_fusion_strategy([("DYNAMIC", 3)])
    assert previous == [("STATIC", 2), ("DYNAMIC", 10)]
    assert torsh.jit.set_fusion_strategy(previous) == [("DYNAMIC", 3)]
    with torsh.jit.optimized_execution(False):
        pass
    with pytest.raises(Exception, match="unrecognized fuser option"):
        with torsh.jit.fuser("nope"):
            pass


def test_save_and_load_say_what_to_do_instead(tmp_path):
    with pytest.raises(RuntimeError, match="state_dict"):
        torsh.jit.save(torsh.nn.Linear(2, 2), tmp_path / "m.pt")
    with pytest.raises(RuntimeError, match="state_dict"):
        torsh.jit.load(tmp_path / "m.pt")
