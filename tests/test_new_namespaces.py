"""The namespaces programs touch on their first lines, answered as CPU-only PyTorch 2.13 answers them:
torch.accelerator, torch.backends.*, torch.cuda.amp, torch.nn.parallel, torch.multiprocessing, and the top-level
constants and switches (pi, finfo, default device, matmul precision, deterministic algorithms)."""
import math
import warnings

import numpy as np
import pytest

import torsh
import torsh.multiprocessing as tmp
import torsh.nn.parallel  # noqa: F401  (import torch.nn.parallel must work)
from helpers import assert_close, check_same_error, torch_ref


def test_accelerator():
    for name in ("is_available", "current_accelerator", "device_count"):
        assert getattr(torsh.accelerator, name)() == getattr(torch_ref.accelerator, name)()


@pytest.mark.parametrize("path", ["cudnn.benchmark", "cudnn.deterministic", "cudnn.enabled", "cudnn.allow_tf32",
                                  "cudnn.is_available()", "cudnn.version()", "mps.is_available()", "mps.is_built()",
                                  "cuda.matmul.allow_tf32", "cuda.is_built()", "opt_einsum.is_available()",
                                  "cuda.matmul.allow_fp16_reduced_precision_reduction"])
def test_backend_flags_match_cpu_pytorch(path):
    assert eval(f"lib.backends.{path}", {"lib": torsh}) == eval(f"lib.backends.{path}", {"lib": torch_ref})


def test_backend_flags_can_be_set():
    torsh.backends.cudnn.benchmark = True
    torsh.backends.cudnn.deterministic = True
    torsh.backends.cuda.matmul.allow_tf32 = True
    try:
        assert torsh.backends.cudnn.benchmark and torsh.backends.cuda.matmul.allow_tf32
    finally:
        torsh.backends.cudnn.benchmark = torsh.backends.cudnn.deterministic = False
        torsh.backends.cuda.matmul.allow_tf32 = False
    assert torsh.backends.mkldnn.is_available() is False  # torsh does not use oneDNN (PyTorch's wheel does)


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("enabled", [False, True])
def test_grad_scaler_is_a_disabled_scaler_with_pytorchs_warnings(enabled):
    ours, our_warnings = _warnings_of(lambda: torsh.cuda.amp.GradScaler(enabled=enabled))
    ref, ref_warnings = _warnings_of(lambda: torch_ref.cuda.amp.GradScaler(enabled=enabled))
    assert our_warnings == ref_warnings
    assert ours.is_enabled() == ref.is_enabled() and ours.get_scale() == ref.get_scale()
    assert ours.state_dict() == ref.state_dict()
    w = torsh.nn.Parameter(torsh.ones(2))
    opt = torsh.optim.SGD([w], lr=0.5)
    ours.scale((w * 3).sum()).backward()
    ours.unscale_(opt)
    ours.step(opt)
    ours.update()
    assert w.tolist() == [-0.5, -0.5]


@pytest.mark.parametrize("enabled", [False, True])
def test_autocast_is_a_no_op_with_pytorchs_warnings(enabled):
    def run(lib):
        with lib.cuda.amp.autocast(enabled=enabled):
            return lib.ones(2, 2) @ lib.ones(2, 2)
    ours, our_warnings = _warnings_of(lambda: run(torsh))
    ref, ref_warnings = _warnings_of(lambda: run(torch_ref))
    assert [c for c, _ in our_warnings] == [c for c, _ in ref_warnings]
    assert [m for _, m in our_warnings] == [m for _, m in ref_warnings]
    assert_close(ours, ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        double = torsh.cuda.amp.autocast(enabled=False)(lambda x: x * 2)
    assert double(torsh.ones(1)).tolist() == [2.0]


def test_cuda_legacy_types():
    check_same_error(lambda lib: lib.cuda.FloatTensor(2))
    assert not isinstance(torsh.ones(1), torsh.cuda.FloatTensor)
    assert isinstance(torsh.ones(1), torsh.FloatTensor)


# -- torch.nn.parallel --------------------------------------------------------------------------------

def test_data_parallel_calls_the_module():
    for lib in (torsh, torch_ref):
        lib.manual_seed(0)
    m = torsh.nn.Linear(2, 3)
    r = torch_ref.nn.Linear(2, 3)
    r.load_state_dict({k: torch_ref.tensor(v.detach().numpy()) for k, v in m.state_dict().items()})
    dp, rp = torsh.nn.DataParallel(m), torch_ref.nn.DataParallel(r)
    assert dp.module is m and torsh.nn.parallel.DataParallel is torsh.nn.DataParallel
    assert list(dp.state_dict()) == list(rp.state_dict()) and dp.device_ids == rp.device_ids
    assert repr(dp) == repr(rp)
    x = np.arange(4.0).reshape(2, 2)
    ours, ref = dp(torsh.tensor(x, dtype=torsh.float32)), rp(torch_ref.tensor(x, dtype=torch_ref.float32))
    assert_close(ours, ref)
    ours.sum().backward()
    ref.sum().backward()
    assert_close(m.weight.grad, r.weight.grad)
    check_same_error(lambda lib: lib.nn.parallel.data_parallel(lib.nn.Linear(2, 3), lib.ones(1, 2)))


def test_distributed_data_parallel_needs_a_process_group():
    check_same_error(lambda lib: lib.nn.parallel.DistributedDataParallel(lib.nn.Linear(1, 1)))


# -- torch.multiprocessing ----------------------------------------------------------------------------

def test_multiprocessing_namespace():
    assert set(torch_ref.multiprocessing.__all__) <= set(tmp.__all__)
    for name in torch_ref.multiprocessing.__all__:
        assert hasattr(tmp, name), name
    assert tmp.get_all_sharing_strategies() == torch_ref.multiprocessing.get_all_sharing_strategies()
    assert tmp.get_sharing_strategy() == torch_ref.multiprocessing.get_sharing_strategy()
    assert tmp.cpu_count() >= 1 and tmp.get_context("spawn").get_start_method() == "spawn"


def _hogwild_step(rank, model):
    with torsh.no_grad():
        for p in model.parameters():
            p.add_(1.0)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_hogwild_processes_write_the_shared_parameters(start_method):
    model = torsh.nn.Linear(3, 2)
    before = [p.detach().clone() for p in model.parameters()]
    model.share_memory()
    assert all(p.is_shared() for p in model.parameters())
    context = tmp.get_context(start_method)
    workers = [context.Process(target=_hogwild_step, args=(rank, model)) for rank in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert [w.exitcode for w in workers] == [0, 0]
    for p, old in zip(model.parameters(), before):
        assert_close(p.detach(), old + 2.0)


def _fill_from_queue(queue):
    t = queue.get()
    t.fill_(7.0)


def test_shared_tensor_through_a_queue_is_the_same_memory():
    context = tmp.get_context("spawn")
    queue = context.Queue()
    t = torsh.zeros(3).share_memory_()
    worker = context.Process(target=_fill_from_queue, args=(queue,))
    worker.start()
    queue.put(t)
    worker.join()
    assert worker.exitcode == 0 and t.tolist() == [7.0, 7.0, 7.0]


def _spawned(rank, values):
    values[rank] = rank + 1.0


def _spawned_fails(rank):
    raise ValueError(f"bad rank {rank}")


def test_spawn_runs_each_rank_and_reraises_failures():
    values = torsh.zeros(2).share_memory_()
    tmp.spawn(_spawned, args=(values,), nprocs=2)
    assert values.tolist() == [1.0, 2.0]
    with pytest.raises(tmp.ProcessRaisedException, match="ValueError: bad rank 0"):
        tmp.spawn(_spawned_fails, nprocs=1)


# -- top-level names ----------------------------------------------------------------------------------

def test_constants():
    for name in ("pi", "e", "inf"):
        assert getattr(torsh, name) == getattr(torch_ref, name)
    assert math.isnan(torsh.nan) and torsh.newaxis is None is torch_ref.newaxis


@pytest.mark.parametrize("dtype", [None, "float16", "bfloat16", "float32", "float64", "complex64", "complex128"])
def test_finfo(dtype):
    ours = torsh.finfo() if dtype is None else torsh.finfo(getattr(torsh, dtype))
    ref = torch_ref.finfo() if dtype is None else torch_ref.finfo(getattr(torch_ref, dtype))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, field) == getattr(ref, field), field
    assert repr(ours) == repr(ref)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo(dtype):
    ours, ref = torsh.iinfo(getattr(torsh, dtype)), torch_ref.iinfo(getattr(torch_ref, dtype))
    for field in ("bits", "max", "min", "dtype"):
        assert getattr(ours, field) == getattr(ref, field), field
    assert repr(ours) == repr(ref)


@pytest.mark.parametrize("call", [lambda lib: lib.finfo(lib.int32), lambda lib: lib.iinfo(lib.float32),
                                  lambda lib: lib.iinfo(lib.bool)])
def test_info_errors(call):
    check_same_error(call)


def test_default_device():
    assert str(torsh.get_default_device()) == str(torch_ref.get_default_device()) == "cpu"
    torsh.set_default_device("cpu")
    torsh.set_default_device(None)
    assert torsh.get_default_device() == torsh.device("cpu")
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
        torsh.set_default_device("cuda")  # PyTorch raises this on the first tensor made there


def test_float32_matmul_precision():
    assert torsh.get_float32_matmul_precision() == torch_ref.get_float32_matmul_precision()
    torsh.set_float32_matmul_precision("high")
    try:
        assert torsh.get_float32_matmul_precision() == "high"
        with pytest.warns(UserWarning, match="x is not one of 'highest', 'high', or 'medium'"):
            torsh.set_float32_matmul_precision("x")
        assert torsh.get_float32_matmul_precision() == "high"
    finally:
        torsh.set_float32_matmul_precision("highest")


def test_deterministic_algorithms():
    assert torsh.are_deterministic_algorithms_enabled() == torch_ref.are_deterministic_algorithms_enabled()
    torsh.use_deterministic_algorithms(True, warn_only=True)
    try:
        assert torsh.are_deterministic_algorithms_enabled() and torsh.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torsh.use_deterministic_algorithms(False)
    assert not torsh.are_deterministic_algorithms_enabled()


def test_small_predicates():
    for lib in (torsh, torch_ref):
        assert lib.is_tensor(lib.ones(1)) and not lib.is_tensor(1) and not lib.is_storage(1)
        assert lib.numel(lib.ones(2, 3)) == 6
        assert lib.is_nonzero(lib.tensor([1.0])) and not lib.is_nonzero(lib.tensor(0))
        assert callable(lib.set_printoptions) and callable(lib.compile)
    check_same_error(lambda lib: lib.is_nonzero(lib.tensor([1, 2])))
    check_same_error(lambda lib: lib.is_nonzero(lib.tensor([])))


def test_set_default_tensor_type():
    try:
        with pytest.warns(UserWarning, match="set_default_tensor_type\\(\\) is deprecated as of PyTorch 2.1"):
            torsh.set_default_tensor_type(torsh.DoubleTensor)
        assert torsh.ones(1).dtype is torsh.float64
        with pytest.warns(UserWarning):
            torsh.set_default_tensor_type("torch.FloatTensor")
        assert torsh.ones(1).dtype is torsh.float32
    finally:
        torsh.set_default_dtype(torsh.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_same_error(lambda lib: lib.set_default_tensor_type("torch.cuda.FloatTensor"))
        check_same_error(lambda lib: lib.set_default_tensor_type(lib.cuda.FloatTensor))
        check_same_error(lambda lib: lib.set_default_tensor_type(lib.LongTensor))
    assert torsh.get_default_dtype() is torsh.float32


def test_deterministic_debug_mode():
    for mode, expected in (("warn", 1), ("error", 2), (0, 0), (1, 1), ("default", 0)):
        torsh.set_deterministic_debug_mode(mode)
        torch_ref.set_deterministic_debug_mode(mode)
        assert torsh.get_deterministic_debug_mode() == torch_ref.get_deterministic_debug_mode() == expected
        assert torsh.are_deterministic_algorithms_enabled() == torch_ref.are_deterministic_algorithms_enabled()
