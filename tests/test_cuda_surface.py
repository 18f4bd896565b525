"""torch.cuda and torch.backends.* on a CPU build: every public name PyTorch's CPU wheel has exists in torsh, and
each callable answers as it does there (its value, or its exception type and message)."""
import inspect
import os
import warnings

import pytest
import torch

import torsh

# names of torch.cuda that are imports of its own source (typing helpers, stdlib modules), not API
_NOT_API = {"Any", "Callable", "NewType", "Optional", "cast", "classproperty", "lru_cache", "importlib", "os",
            "platform", "threading", "traceback", "warnings", "torch", "TYPE_CHECKING"}


def outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = fn()
    except Exception as e:  # noqa: BLE001  (compared between the two libraries)
        return type(e).__name__, str(e)
    if type(value).__name__ in ("StreamContext", "device", "_GeneratorContextManager"):
        return "ok", type(value).__name__
    return "ok", value


def test_every_public_cuda_name_exists():
    missing = sorted(n for n in dir(torch.cuda) if not n.startswith("_") and n not in _NOT_API
                     and not hasattr(torsh.cuda, n))
    assert missing == []


@pytest.mark.parametrize("module", ["memory", "random", "graphs", "nvtx", "profiler", "nccl", "tunable", "gds",
                                    "green_contexts", "streams", "amp"])
def test_cuda_submodules_have_pytorchs_public_functions(module):
    ours, theirs = getattr(torsh.cuda, module), getattr(torch.cuda, module)
    names = getattr(theirs, "__all__", None) or [n for n in dir(theirs) if not n.startswith("_")]
    wanted = [n for n in names if (inspect.isfunction(getattr(theirs, n, None)) or inspect.isclass(getattr(theirs, n, None)))
              and getattr(getattr(theirs, n), "__module__", "").startswith("torch")]
    assert sorted(n for n in wanted if not hasattr(ours, n)) == []


CALLS = {
    "is_available": (), "device_count": (), "is_initialized": (), "init": (), "empty_cache": (),
    "synchronize": (), "current_device": (), "current_stream": (), "default_stream": (),
    "get_device_name": (), "get_device_capability": (), "get_device_properties": (), "get_arch_list": (),
    "get_gencode_flags": (), "is_bf16_supported": (), "is_tf32_supported": (), "memory_allocated": (),
    "max_memory_allocated": (), "memory_reserved": (), "max_memory_reserved": (), "memory_cached": (),
    "max_memory_cached": (), "memory_stats": (), "memory_stats_as_nested_dict": (), "host_memory_stats": (),
    "reset_peak_memory_stats": (), "reset_max_memory_allocated": (), "reset_accumulated_memory_stats": (),
    "memory_snapshot": (), "memory_summary": (), "list_gpu_processes": (), "mem_get_info": (),
    "get_allocator_backend": (), "get_rng_state": (), "get_rng_state_all": (), "initial_seed": (), "seed": (),
    "seed_all": (), "manual_seed": (1,), "manual_seed_all": (1,), "set_rng_state_all": ([],),
    "ipc_collect": (), "cudart": (), "current_blas_handle": (), "utilization": (), "temperature": (),
    "power_draw": (), "clock_rate": (), "memory_usage": (), "device_memory_used": (), "get_sync_debug_mode": (),
    "set_sync_debug_mode": (0,), "set_device": (0,), "can_device_access_peer": (0, 1),
    "caching_allocator_alloc": (10,), "caching_allocator_delete": (0,), "set_per_process_memory_fraction": (0.5,),
    "get_per_process_memory_fraction": (), "is_current_stream_capturing": (), "graph_pool_handle": (),
    "Stream": (), "Event": (), "CUDAGraph": (), "MemPool": (), "FloatTensor": (2,), "FloatStorage": (2,),
    "set_stream": (None,), "check_error": (0,), "get_stream_from_external": (0,),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_cuda_calls_answer_as_the_cpu_wheel(name):
    args = CALLS[name]
    assert outcome(lambda: getattr(torsh.cuda, name)(*args)) == outcome(lambda: getattr(torch.cuda, name)(*args))


@pytest.mark.parametrize("call", [
    lambda lib: lib.cuda.set_device("cpu"), lambda lib: lib.cuda.set_device(-1),
    lambda lib: lib.cuda.device(0).__enter__(), lambda lib: lib.cuda.device(-1).__enter__(),
    lambda lib: lib.cuda.device("cuda:1").idx, lambda lib: lib.cuda.device_of(lib.ones(1)).idx,
    lambda lib: lib.cuda.stream(None).__enter__(), lambda lib: lib.cuda.nvtx.range_push("a"),
    lambda lib: lib.cuda.nvtx.mark("a"), lambda lib: lib.cuda.nvtx.range("a").__enter__(),
    lambda lib: lib.cuda.profiler.start(), lambda lib: lib.cuda.nccl.is_available([]),
    lambda lib: lib.cuda.tunable.is_enabled(), lambda lib: lib.cuda.sparse.FloatTensor(),
    lambda lib: isinstance(lib.ones(1), lib.cuda.FloatTensor), lambda lib: lib.cuda.default_generators,
    lambda lib: (lib.cuda.has_half, lib.cuda.has_magma), lambda lib: (lib.cuda.cudaStatus.SUCCESS,),
    lambda lib: issubclass(lib.cuda.OutOfMemoryError, RuntimeError), lambda lib: lib.cuda.random.seed(),
    lambda lib: lib.cuda.memory.empty_cache(), lambda lib: lib.cuda.graph(None),
    lambda lib: lib.cuda.is_bf16_supported(including_emulation=False),
])
def test_cuda_behaviour_matches(call):
    assert outcome(lambda: call(torsh)) == outcome(lambda: call(torch))


def test_cuda_context_managers_that_pytorch_allows():
    for lib in (torch, torsh):
        with lib.cuda.device(-1), lib.cuda.device_of(lib.ones(1)), lib.cuda.stream(None):
            pass
    assert outcome(lambda: torsh.cuda.memory.caching_allocator_disabled().__enter__()) == \
        outcome(lambda: torch.cuda.memory.caching_allocator_disabled().__enter__())


def test_cuda_amp_custom_fwd_is_the_deprecated_cuda_form():
    for lib in (torch, torsh):
        with pytest.warns(FutureWarning, match="torch.cuda.amp.custom_fwd"):
            decorated = lib.cuda.amp.custom_fwd(lambda ctx, x: x * 2)
        assert callable(decorated) and lib.cuda.amp.amp_definitely_not_available()


# -- torch.backends.* -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["cpu", "cuda", "cudnn", "cusparselt", "kleidiai", "mha", "miopen", "mkl", "mkldnn",
                                  "mps", "nnpack", "openmp", "opt_einsum", "quantized", "xeon"])
def test_backends_submodules_exist(name):
    assert isinstance(getattr(torsh.backends, name), type(torsh))


@pytest.mark.parametrize("call", [
    lambda lib: lib.backends.openmp.is_available(), lambda lib: lib.backends.cusparselt.is_available(),
    lambda lib: lib.backends.cusparselt.version(), lambda lib: lib.backends.cusparselt.get_max_alg_id(),
    lambda lib: lib.backends.kleidiai.is_available(), lambda lib: lib.backends.mha.get_fastpath_enabled(),
    lambda lib: (lib.backends.mkl.VERBOSE_ON, lib.backends.mkl.VERBOSE_OFF),
    lambda lib: lib.backends.quantized.engine, lambda lib: lib.backends.quantized.supported_engines,
    lambda lib: setattr(lib.backends.quantized, "engine", "bogus"),
    lambda lib: setattr(lib.backends.quantized, "engine", "none"),
    lambda lib: setattr(lib.backends.quantized, "supported_engines", []),
    lambda lib: lib.backends.miopen.immediate,
])
def test_backends_answers_match(call):
    assert outcome(lambda: call(torsh)) == outcome(lambda: call(torch))


def test_backends_switches_round_trip():
    for lib in (torch, torsh):
        for engine in ("qnnpack", "fbgemm", "onednn", "x86"):
            lib.backends.quantized.engine = engine
            assert lib.backends.quantized.engine == engine
        lib.backends.mha.set_fastpath_enabled(False)
        assert lib.backends.mha.get_fastpath_enabled() is False
        lib.backends.mha.set_fastpath_enabled(True)
        with lib.backends.mkl.verbose(lib.backends.mkl.VERBOSE_ON), lib.backends.nnpack.flags(enabled=False):
            pass
        assert lib.backends.cpu.get_cpu_capability() in ("AVX512", "AVX2", "DEFAULT", "VSX", "ZVECTOR", "SVE256")
    assert torsh.backends.cpu.get_cpu_capability() == torch.backends.cpu.get_cpu_capability()
    assert torsh.backends.mkl.is_available() is False and torsh.backends.nnpack.is_available() is False  # not linked


# -- small top-level names: sym_*, SymInt & co, hash_tensor, is_distributed, get_file_path ----------------------------
@pytest.mark.parametrize("call", [
    lambda lib: lib.sym_int(2.7), lambda lib: lib.sym_int(-2.7), lambda lib: lib.sym_int(True),
    lambda lib: lib.sym_int(lib.tensor(2.5)), lambda lib: lib.sym_int("a"), lambda lib: lib.sym_float(3),
    lambda lib: lib.sym_float(lib.tensor(2.5)), lambda lib: lib.sym_max(2, 3.0), lambda lib: lib.sym_max(2, 3),
    lambda lib: lib.sym_max(3.0, 2), lambda lib: lib.sym_min(2, 1.5), lambda lib: lib.sym_min(True, 2),
    lambda lib: lib.sym_not(True), lambda lib: lib.sym_not(0),
    lambda lib: lib.sym_not(lib.tensor(True)), lambda lib: lib.sym_ite(True, 1, 2), lambda lib: lib.sym_ite(False, 1, 2.0),
    lambda lib: lib.sym_ite(1, 1, 2), lambda lib: lib.sym_sqrt(4), lambda lib: lib.sym_sqrt(-1),
    lambda lib: lib.sym_sum([1, 2, 3]), lambda lib: lib.sym_sum(1, 2.5), lambda lib: lib.sym_sum([]),
    lambda lib: lib.sym_sum([lib.tensor(2.5), lib.tensor(1.0)]).item(), lambda lib: lib.sym_fresh_size(3),
    lambda lib: lib.sym_constrain_range(3, min=0, max=5), lambda lib: lib.sym_constrain_range(9, min=0, max=5),
    lambda lib: lib.sym_constrain_range_for_size(-1), lambda lib: lib.sym_constrain_range(-5, max=2),
    lambda lib: (isinstance(3, lib.SymInt), isinstance(3.0, lib.SymFloat), isinstance(True, lib.SymBool)),
    lambda lib: isinstance(3, lib.types.py_sym_types), lambda lib: lib.is_distributed(lib.ones(1)),
    lambda lib: lib.is_distributed(1), lambda lib: lib.ones(2).is_distributed(),
    lambda lib: lib.get_file_path("a", "b") == os.path.join(os.path.dirname(os.path.dirname(lib.__file__)), "a", "b"),
])
def test_small_toplevel_names_match(call):
    assert outcome(lambda: call(torsh)) == outcome(lambda: call(torch))


def test_sym_max_of_a_tensor_is_refused_as_pytorch():
    for lib in (torch, torsh):
        with pytest.raises(AssertionError, match="^expected .*, got <class '.*Tensor'>$"):
            lib.sym_max(lib.tensor(1.0), 2)


@pytest.mark.parametrize("case", [
    lambda lib: lib.hash_tensor(lib.arange(4)), lambda lib: lib.hash_tensor(lib.arange(4.0)),
    lambda lib: lib.hash_tensor(lib.arange(6).reshape(2, 3), dim=1),
    lambda lib: lib.hash_tensor(lib.arange(6).reshape(2, 3), dim=0, keepdim=True),
    lambda lib: lib.hash_tensor(lib.arange(24.0).reshape(2, 3, 4), dim=(0, 2)),
    lambda lib: lib.hash_tensor(lib.tensor([True, False])), lambda lib: lib.hash_tensor(lib.tensor([1, -1], dtype=lib.int8)),
    lambda lib: lib.hash_tensor(lib.tensor([1.0, 2.0], dtype=lib.float16)), lambda lib: lib.hash_tensor(lib.tensor(3.5)),
    lambda lib: lib.hash_tensor(lib.ones(0, 2), dim=1), lambda lib: lib.arange(4).hash_tensor(),
    lambda lib: lib.hash_tensor(lib.tensor([1.0, 2.0], requires_grad=True)),
])
def test_hash_tensor_matches(case):
    got, want = outcome(lambda: case(torsh)), outcome(lambda: case(torch))
    assert str(got[1].dtype).split(".")[-1] == str(want[1].dtype).split(".")[-1] == "uint64"
    assert got[1].tolist() == want[1].tolist() and tuple(got[1].shape) == tuple(want[1].shape)


@pytest.mark.parametrize("case", [
    lambda lib: lib.hash_tensor(3), lambda lib: lib.hash_tensor(lib.arange(4), mode=1),
    lambda lib: lib.hash_tensor(lib.tensor([1 + 2j])), lambda lib: lib.hash_tensor(lib.ones(0)),
    lambda lib: lib.hash_tensor(lib.ones(2, 3), dim=5), lambda lib: lib.hash_tensor(lib.ones(0, 2), dim=0),
])
def test_hash_tensor_errors_match(case):
    assert outcome(lambda: case(torsh)) == outcome(lambda: case(torch))


def test_tag_members_match():
    assert [(t.name, t.value) for t in torsh.Tag] == \
        [(n, getattr(torch.Tag, n).value) for n in dir(torch.Tag) if not n.startswith("_") and n not in ("name", "value")]
    assert str(torsh.Tag.pt2_compliant_tag) == str(torch.Tag.pt2_compliant_tag)


def test_storage_module_names():
    for lib in (torch, torsh):
        assert lib.storage.UntypedStorage is lib.UntypedStorage and lib.storage.TypedStorage is lib.TypedStorage
        assert lib.storage._get_always_warn_typed_storage_removal() is False


@pytest.mark.parametrize("call", [
    lambda lib: lib.backends.mps.get_core_count(), lambda lib: lib.backends.mps.get_name(),
    lambda lib: lib.backends.mps.is_macos_or_newer(14, 0), lambda lib: lib.backends.mps.is_macos13_or_newer(),
])
def test_backends_mps_answers_match(call):
    assert outcome(lambda: call(torsh)) == outcome(lambda: call(torch))


def test_backends_cuda_names_exist():
    missing = [n for n in dir(torch.backends.cuda) if not n.startswith("_") and not hasattr(torsh.backends.cuda, n)
               and n not in ("Any", "contextlib", "deprecated", "torch")]
    assert missing == []


@pytest.mark.parametrize("call", [
    lambda lib: lib.backends.cuda.cufft_plan_cache.size, lambda lib: lib.backends.cuda.cufft_plan_cache[0],
    lambda lib: lib.backends.cuda.cufft_plan_cache.clear(), lambda lib: lib.backends.cuda.cublas_workspace_size(),
    lambda lib: lib.backends.cuda.preferred_linalg_library("cusolver"),
    lambda lib: lib.backends.cuda.preferred_linalg_library("bogus"),
    lambda lib: lib.backends.cuda.preferred_blas_library("cublaslt"), lambda lib: lib.backends.cuda.is_ck_sdpa_available(),
    lambda lib: lib.backends.cuda.fp16_bf16_reduction_math_sdp_allowed(), lambda lib: lib.backends.cuda.matmul.allow_tf32,
])
def test_backends_cuda_answers_match(call):
    assert outcome(lambda: call(torsh)) == outcome(lambda: call(torch))


def test_backends_cuda_sdp_kernel_is_the_deprecated_sdpa_kernel():
    for lib in (torch, torsh):
        with pytest.warns(FutureWarning, match="sdp_kernel"):
            with lib.backends.cuda.sdp_kernel(enable_math=False):
                assert not lib.backends.cuda.math_sdp_enabled()
        assert lib.backends.cuda.math_sdp_enabled()
