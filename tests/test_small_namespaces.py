"""The small namespaces real programs import beside the main API: torch.compiler, torch._dynamo,
torch.nn.attention (+ the sdp flags of torch.backends.cuda), torch.mps, torch.xpu, torch.utils.hooks, and what
torch.compile returns for a module. Each checked against PyTorch 2.13."""
import importlib
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch


def _sub(lib, name):
    return importlib.import_module(f"{lib.__name__}.{name}")


# -- torch.compile(module) -----------------------------------------------------------------------------------
def _net(lib):
    lib.manual_seed(0)
    net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
    with lib.no_grad():
        for i, p in enumerate(net.parameters()):
            p.copy_(lib.tensor(np.linspace(-1, 1, p.numel()).reshape(p.shape) * (i + 1) / 3, dtype=lib.float32))
    return net


def test_compiled_module_is_a_module_like_pytorchs():
    """Structure against torch.compile's OptimizedModule (never called: inductor takes ~40 s to compile here);
    values against PyTorch's eager module (inductor's numerics differ in the last digits anyway)."""
    def run(lib, compile_it):
        net = _net(lib)
        compiled = lib.compile(net)
        structure = (sorted(compiled.state_dict()), isinstance(compiled, lib.nn.Module), compiled._orig_mod is net,
                     type(compiled).__name__)
        model = compiled if compile_it else net
        x = lib.tensor(np.linspace(-2, 2, 15).reshape(5, 3), dtype=lib.float32)
        out = model(x)
        out.square().sum().backward()
        model.eval()
        values = (out, model(x), net[0].weight.grad)
        return structure, (net.training, int(net[1].num_batches_tracked), len(list(model.parameters()))), values

    ours, ref = run(torsh, True), run(torch_ref, False)
    assert ours[:2] == ref[:2]
    for a, b in zip(ours[2], ref[2]):  # BatchNorm's float32 backward rounds differently (PyTorch sums in double)
        assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", ["inductor", "eager", "aot_eager"])
def test_compile_takes_pytorchs_backend_names(backend):
    f = torsh.compile(lambda x: (x * 2).sin() + 1, backend=backend)
    x = torsh.linspace(-1, 1, 7)
    assert_close(f(x), (x * 2).sin() + 1)
    assert backend == "inductor" or type(f).__name__ != "CompiledFunction"


# -- torch.compiler / torch._dynamo ---------------------------------------------------------------------------
@pytest.mark.parametrize("expr", [
    "compiler.is_compiling()", "compiler.is_dynamo_compiling()", "compiler.is_exporting()", "compiler.reset()",
    "compiler.cudagraph_mark_step_begin()", "compiler.get_default_backend()", "_dynamo.reset()",
    "_dynamo.config.suppress_errors", "_dynamo.config.cache_size_limit", "_dynamo.is_compiling()",
    "_dynamo.mark_dynamic(lib.ones(2, 3), 0)", "_dynamo.mark_static(lib.ones(2))",
])
def test_compiler_queries_match_pytorch(expr):
    def run(lib):
        return eval(expr, {"lib": lib, "compiler": _sub(lib, "compiler"), "_dynamo": _sub(lib, "_dynamo")})
    assert run(torsh) == run(torch_ref)


def test_compiler_decorators_keep_functions_callable():
    def f(x):
        return x + 1

    for lib in (torsh, torch_ref):
        compiler = _sub(lib, "compiler")
        for deco in (compiler.disable, compiler.disable(recursive=False), compiler.allow_in_graph,
                     compiler.assume_constant_result, _sub(lib, "_dynamo").disable):
            assert deco(f)(1) == 2
    with torsh.compiler.set_stance("force_eager"):
        assert torsh.compile(f)(torsh.ones(1)).item() == 2
    assert set(torsh.compiler.list_backends()) >= {"inductor"}
    assert isinstance(torsh.compile(torsh.nn.Linear(1, 1)), torsh._dynamo.OptimizedModule)


# -- torch.nn.attention and the sdp flags ---------------------------------------------------------------------
def test_sdp_backend_values_and_repr_match_pytorch():
    ours, ref = torsh.nn.attention.SDPBackend, torch_ref.nn.attention.SDPBackend
    assert {k: int(v) for k, v in ours.__members__.items()} == {k: int(v) for k, v in ref.__members__.items()}
    assert str(ours.FLASH_ATTENTION) == str(ref.FLASH_ATTENTION)


@pytest.mark.parametrize("names, set_priority", [
    (["MATH"], False), (["FLASH_ATTENTION"], False), (["EFFICIENT_ATTENTION", "MATH"], False),
    (["CUDNN_ATTENTION"], False), (["MATH", "FLASH_ATTENTION"], True),
])
def test_sdpa_kernel_sets_and_restores_the_flags_like_pytorch(names, set_priority):
    def run(lib):
        attention, cuda = lib.nn.attention, lib.backends.cuda
        flags = lambda: (cuda.flash_sdp_enabled(), cuda.math_sdp_enabled(), cuda.mem_efficient_sdp_enabled(),
                         cuda.cudnn_sdp_enabled())
        with attention.sdpa_kernel([getattr(attention.SDPBackend, n) for n in names], set_priority=set_priority):
            inside = flags()
        return inside, flags()

    assert run(torsh) == run(torch_ref)


def test_sdpa_kernel_rejects_strings_like_pytorch():
    def call(lib):
        with lib.nn.attention.sdpa_kernel("math"):
            pass
    check_same_error(call)


def test_backends_cuda_sdp_switches_round_trip():
    cuda = torsh.backends.cuda
    cuda.enable_flash_sdp(False)
    try:
        assert not cuda.flash_sdp_enabled() and cuda.math_sdp_enabled()
    finally:
        cuda.enable_flash_sdp(True)
    assert cuda.flash_sdp_enabled() and cuda.is_flash_attention_available() is False


# -- torch.mps / torch.xpu -----------------------------------------------------------------------------------
@pytest.mark.parametrize("expr", [
    "mps.is_available()", "mps.device_count()", "mps.manual_seed(0)", "mps.synchronize()", "mps.empty_cache()",
    "mps.seed()", "mps.current_allocated_memory()", "mps.recommended_max_memory()",
    "xpu.is_available()", "xpu.device_count()", "xpu.is_initialized()", "xpu.memory_allocated()",
    "xpu.is_bf16_supported()", "xpu.manual_seed_all(1)", "xpu.synchronize()", "xpu.current_device()",
    "xpu.get_device_name()", "xpu.set_device(0)",
])
def test_device_namespaces_answer_like_pytorch_without_the_device(expr):
    def run(lib):
        return eval(expr, {"mps": _sub(lib, "mps"), "xpu": _sub(lib, "xpu")})

    try:
        expected = run(torch_ref)
    except Exception:  # noqa: BLE001 - then torsh must raise the same
        check_same_error(run)
        return
    assert run(torsh) == expected


# -- torch.utils.hooks ---------------------------------------------------------------------------------------
def test_utils_hooks_handle_is_the_modules_one():
    hooks = _sub(torsh, "utils.hooks")
    net = torsh.nn.Linear(2, 2)
    calls = []
    handle = net.register_forward_hook(lambda *a: calls.append(1))
    assert isinstance(handle, hooks.RemovableHandle)
    net(torsh.ones(1, 2))
    handle.remove()
    net(torsh.ones(1, 2))
    assert calls == [1]

    def hook(grad):
        return grad

    assert hooks.unserializable_hook(hook) is hook and hook.__torch_unserializable__ is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hooks.warn_if_has_hooks(torsh.ones(2))


# -- torch.distributed before init_process_group (the rest: tests/test_distributed*.py) ------------------------
def test_distributed_answers_single_process_queries():
    dist = _sub(torsh, "distributed")
    assert dist.is_available() is torch_ref.distributed.is_available() is True and dist.is_initialized() is False
    assert dist.is_torchelastic_launched() is torch_ref.distributed.is_torchelastic_launched() is False
    for call in (dist.get_rank, dist.get_world_size):  # PyTorch's error when no group was initialised
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            call()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        torch_ref.distributed.get_rank()
