"""torsh.distributed in one process (a world of one, as many programs run it) against torch.distributed with
gloo in one process: results, dtypes, in-place writes, PyTorch's errors, DistributedDataParallel and
DistributedSampler. Two processes: tests/test_distributed_mpi.py."""
import subprocess
import sys

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch


@pytest.fixture
def both(tmp_path):
    """torsh and torch each with an initialised world of one (torch's through a file store: no port)."""
    torsh.distributed.init_process_group("gloo", rank=0, world_size=1, init_method="tcp://127.0.0.1:29500")
    torch_ref.distributed.init_process_group("gloo", rank=0, world_size=1,
                                             init_method=f"file://{tmp_path}/store")
    yield
    for lib in (torsh, torch_ref):
        if lib.distributed.is_initialized():
            lib.distributed.destroy_process_group()


def test_import_torsh_does_not_load_mpi():
    code = ("import sys, torsh, torsh.distributed as d; assert 'mpi4py' not in sys.modules; "
            "assert d.is_available() is True; assert 'mpi4py.MPI' not in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize("call", [
    lambda d, lib: d.get_rank(), lambda d, lib: d.get_world_size(), lambda d, lib: d.get_backend(),
    lambda d, lib: d.barrier(), lambda d, lib: d.all_reduce(lib.ones(2)), lambda d, lib: d.new_group([0]),
    lambda d, lib: d.destroy_process_group(), lambda d, lib: d.broadcast(lib.ones(1), src=0),
])
def test_errors_before_init(call):
    assert torsh.distributed.is_initialized() is False
    check_same_error(lambda lib: call(lib.distributed, lib))


def test_errors_before_init_of_ddp_and_sampler():
    check_same_error(lambda lib: lib.nn.parallel.DistributedDataParallel(lib.nn.Linear(1, 1)))
    check_same_error(lambda lib: lib.utils.data.DistributedSampler(range(4)))


def test_init_backends_and_queries(tmp_path):
    d = torsh.distributed
    check_same_error(lambda lib: lib.distributed.init_process_group(
        "nccl", rank=0, world_size=1, init_method=f"file://{tmp_path}/nccl"))
    check_same_error(lambda lib: lib.distributed.init_process_group(
        "foo", rank=0, world_size=1, init_method=f"file://{tmp_path}/foo"))
    assert d.is_initialized() is False
    for backend, name in (("gloo", "gloo"), ("mpi", "mpi"), ("GLOO", "gloo"), (None, "undefined")):
        d.init_process_group(backend, rank=0, world_size=1, init_method="tcp://127.0.0.1:29500")
        assert (d.is_initialized(), d.get_rank(), d.get_world_size(), d.get_backend()) == (True, 0, 1, name)
        assert d.group.WORLD is not None and d.get_process_group_ranks(d.group.WORLD) == [0]
        d.destroy_process_group()
        assert d.is_initialized() is False and d.group.WORLD is None


def test_init_from_torchrun_environment(monkeypatch):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    torsh.distributed.init_process_group("gloo")
    try:
        assert (torsh.distributed.get_rank(), torsh.distributed.get_world_size()) == (0, 1)
    finally:
        torsh.distributed.destroy_process_group()


def test_a_world_larger_than_mpi_started_says_how_to_launch():
    with pytest.raises(RuntimeError, match=r"mpiexec -n 2"):
        torsh.distributed.init_process_group("gloo", rank=0, world_size=2, init_method="tcp://127.0.0.1:29500")
    assert torsh.distributed.is_initialized() is False


def test_init_twice(both):
    check_same_error(lambda lib: lib.distributed.init_process_group("gloo", rank=0, world_size=1,
                                                                    init_method="tcp://127.0.0.1:29501"))


def test_reduce_op_members():
    ours, ref = torsh.distributed.ReduceOp, torch_ref.distributed.ReduceOp
    assert list(ours.RedOpType.__members__) == list(ref.RedOpType.__members__)
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        assert str(getattr(ours, name)) == str(getattr(ref, name))
        assert getattr(ours, name).value == getattr(ref, name).value


def _run_both(fn):
    """fn(lib) on each library; the tensors it returns, pairwise."""
    return fn(torsh), fn(torch_ref)


# AVG of integers is an error (test_average_of_integers_is_refused); of bools not a case PyTorch defines
REDUCTIONS = [(dtype, op) for dtype in ("float32", "float64", "int64", "bool", "bfloat16", "float16")
              for op in ("SUM", "AVG", "PRODUCT", "MIN", "MAX")
              if (dtype, op) not in (("bool", "AVG"), ("int64", "AVG"))]


@pytest.mark.parametrize("dtype,op", REDUCTIONS)
def test_all_reduce_in_place(both, dtype, op):
    def run(lib):
        t = lib.tensor([[1.5, -2.0], [0.0, 3.0]]).to(getattr(lib, dtype))
        view = t.t()  # a non-contiguous tensor: the result must land in its storage
        lib.distributed.all_reduce(view, op=getattr(lib.distributed.ReduceOp, op))
        return t
    ours, ref = _run_both(run)
    assert_close(ours, ref)


def test_average_of_integers_is_refused(both):
    check_same_error(lambda lib: lib.distributed.all_reduce(lib.arange(3), op=lib.distributed.ReduceOp.AVG))


def test_async_work(both):
    ours, ref = _run_both(lambda lib: lib.arange(4.0))
    for lib, t in ((torsh, ours), (torch_ref, ref)):
        work = lib.distributed.all_reduce(t, async_op=True)
        assert work.wait() is True and work.is_completed() is True
        assert lib.distributed.all_reduce(t) is None
    assert_close(ours, ref)


def test_transfers(both):
    def run(lib):
        d = lib.distributed
        t = lib.arange(6.0).reshape(2, 3)
        d.broadcast(t, src=0)
        d.reduce(t, dst=0, op=d.ReduceOp.MAX)
        gathered = [lib.zeros(2, 3)]
        d.all_gather(gathered, t)
        into, single = lib.zeros(2, 3), lib.zeros(2, 3)
        d.all_gather_into_tensor(into, t)
        d.all_gather_single(single, t * 2)
        scattered = lib.zeros(2, 3, dtype=lib.int64)
        d.reduce_scatter_tensor(scattered, lib.ones(2, 3, dtype=lib.int64))
        gather_list = [lib.zeros(2, 3)]
        d.gather(t, gather_list, dst=0)
        target = lib.zeros(3)
        d.scatter(target, [lib.tensor([7.0, 8.0, 9.0])], src=0)
        barrier = d.barrier(async_op=True)
        assert barrier.wait() is True
        return [t, gathered[0], into, single, scattered, gather_list[0], target]
    for ours, ref in zip(*_run_both(run)):
        assert_close(ours, ref)


def test_exchanges_in_a_world_of_one(both):
    def run(lib):
        d = lib.distributed
        out = [lib.zeros(2, 2)]
        d.all_to_all(out, [lib.arange(4.0).reshape(2, 2)])
        single = lib.zeros(3, 2, dtype=lib.int64)
        d.all_to_all_single(single, lib.arange(6).reshape(3, 2))
        split = lib.zeros(3)
        work = d.all_to_all_single(split, lib.tensor([1.0, 2.0, 3.0]), [3], [3], async_op=True)
        assert work.wait() is True
        return [out[0], single, split]
    for ours, ref in zip(*_run_both(run)):
        assert_close(ours, ref)


@pytest.mark.parametrize("call", [
    lambda d, lib: d.all_to_all_single(lib.zeros(3), lib.zeros(3), [1, 2], None),
    lambda d, lib: d.all_to_all_single(lib.zeros(3), lib.zeros(3), None, [2]),
    lambda d, lib: d.all_to_all_single(lib.zeros(3), lib.zeros(3, dtype=lib.int64)),
    lambda d, lib: d.all_to_all([lib.zeros(3)], lib.zeros(3)),
    lambda d, lib: d.P2POp(d.all_reduce, lib.zeros(1), 0),
    lambda d, lib: d.P2POp(d.isend, [lib.zeros(1)], 0),
    lambda d, lib: d.batch_isend_irecv([1]),
    lambda d, lib: d.send_object_list([1], dst=0),
    lambda d, lib: d.new_subgroups(0),
    lambda d, lib: d.new_subgroups(2),
    lambda d, lib: d.new_subgroups_by_enumeration([]),
    lambda d, lib: d.get_node_local_rank(),
    lambda d, lib: d.get_default_backend_for_device("meta"),
])
def test_exchange_and_group_errors(both, call, monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    check_same_error(lambda lib: call(lib.distributed, lib))


def test_group_queries(both):
    for lib in (torsh, torch_ref):
        d = lib.distributed
        assert d.get_backend_config() == "cpu:gloo,cuda:gloo"
        assert d.get_node_local_rank(fallback_rank=3) == 3
        assert d.get_default_backend_for_device("cpu") == "gloo"
        assert d.get_default_backend_for_device(lib.device("cuda")) == "nccl"
        count = d.get_pg_count()
        mine, groups = d.new_subgroups(1)
        assert d.get_world_size(mine) == 1 and len(groups) == 1 and d.get_pg_count() == count + 1
        assert d.is_backend_available("gloo") and not d.is_backend_available("nccl")


def test_objects(both):
    for lib in (torsh, torch_ref):
        gathered = [None]
        lib.distributed.all_gather_object(gathered, {"a": [1, 2]})
        assert gathered == [{"a": [1, 2]}]
        objects = ["x", 3, None]
        lib.distributed.broadcast_object_list(objects, src=0)
        assert objects == ["x", 3, None]


@pytest.mark.parametrize("call", [
    lambda d, lib: d.broadcast(lib.ones(2), src=1),
    lambda d, lib: d.send(lib.ones(2), dst=0),
    lambda d, lib: d.all_gather([lib.zeros(2), lib.zeros(2)], lib.ones(2)),
    lambda d, lib: d.all_gather([lib.zeros(3)], lib.ones(2)),
    lambda d, lib: d.scatter(lib.zeros(2), None, src=0),
    lambda d, lib: d.gather(lib.zeros(2), None, dst=0),
    lambda d, lib: d.all_reduce([lib.ones(2)]),
    lambda d, lib: d.new_group([0, 1]),
    lambda d, lib: d.broadcast(lib.ones(1)),
])
def test_errors_after_init(both, call):
    check_same_error(lambda lib: call(lib.distributed, lib))


def test_new_group_of_one(both):
    for lib in (torsh, torch_ref):
        d = lib.distributed
        group = d.new_group([0])
        assert (d.get_rank(group), d.get_world_size(group), d.get_process_group_ranks(group)) == (0, 1, [0])
        t = lib.tensor([2.0, 3.0])
        d.all_reduce(t, group=group)
        assert t.tolist() == [2.0, 3.0]
    check_same_error(lambda lib: lib.distributed.get_group_rank(lib.distributed.new_group([0]), 3), exact=False,
                     fallback_msg="Global rank 3 is not part of group")  # then the group's repr


def test_distributed_sampler_reads_the_process_group(both):
    ours = list(torsh.utils.data.DistributedSampler(range(7), seed=2))  # rank 0 of 1: all, shuffled
    ref = list(torch_ref.utils.data.DistributedSampler(range(7), seed=2))
    assert ours == ref


def _model(lib):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 5), lib.nn.Tanh(), lib.nn.Linear(5, 2)).double()
    with lib.no_grad():  # the same start in both libraries
        gen = np.random.default_rng(3)
        for p in model.parameters():
            p.copy_(lib.tensor(gen.standard_normal(tuple(p.shape))))
    return model


def test_ddp_trains_as_pytorch(both):
    gen = np.random.default_rng(0)
    x, y = gen.standard_normal((6, 3)), gen.standard_normal((6, 2))

    def run(lib):
        ddp = lib.nn.parallel.DistributedDataParallel(_model(lib))
        opt = lib.optim.SGD(ddp.parameters(), lr=0.1)
        for step in range(3):
            opt.zero_grad()
            with ddp.no_sync() if step == 1 else _nothing():
                lib.nn.functional.mse_loss(ddp(lib.tensor(x)), lib.tensor(y)).backward()
            opt.step()
        return ddp
    ours, ref = _run_both(run)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert ours.module is not None and ours.require_backward_grad_sync is True
    for (name, a), b in zip(ours.named_parameters(), ref.parameters()):
        assert name.startswith("module.")
        assert_close(a.detach(), b.detach(), rtol=1e-12, atol=1e-12)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_ddp_needs_parameters(both):
    check_same_error(lambda lib: lib.nn.parallel.DistributedDataParallel(lib.nn.ReLU()))
