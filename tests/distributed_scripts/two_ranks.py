"""Run by tests/test_distributed_mpi.py as ``mpiexec -n 2 python two_ranks.py``: collectives between two
processes, then DistributedDataParallel training compared with a single-process run on the full batch.
Each check raises AssertionError on failure; the last line a rank prints is ``rank <r> ok``."""
import numpy as np

import torsh as torch
import torsh.distributed as dist
from torsh.nn.parallel import DistributedDataParallel


def check_collectives(rank, world):
    t = torch.tensor([rank + 1.0, 10.0 * (rank + 1)], dtype=torch.float64)
    dist.all_reduce(t)
    assert t.tolist() == [3.0, 30.0], t
    t = torch.tensor([rank + 1.0])
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    assert t.tolist() == [1.5], t
    t = torch.tensor([rank + 2], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.PRODUCT)
    assert t.tolist() == [6], t
    t = torch.tensor([float(rank)], dtype=torch.bfloat16)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    assert t.tolist() == [1.0], t

    b = torch.arange(6.0).reshape(2, 3).t() * (rank + 1)      # not contiguous: written back into the view
    dist.broadcast(b, src=1)
    assert b.tolist() == (torch.arange(6.0).reshape(2, 3).t() * 2).tolist(), b

    gathered = [torch.zeros(2, dtype=torch.int32) for _ in range(world)]
    dist.all_gather(gathered, torch.tensor([rank, rank * 7], dtype=torch.int32))
    assert [g.tolist() for g in gathered] == [[0, 0], [1, 7]], gathered
    flat = torch.zeros(2 * world)
    dist.all_gather_into_tensor(flat, torch.full((2,), float(rank)))
    assert flat.tolist() == [0.0, 0.0, 1.0, 1.0], flat
    out = torch.zeros(2)
    dist.reduce_scatter_tensor(out, torch.arange(4.0) + rank)
    assert out.tolist() == ([1.0, 3.0] if rank == 0 else [5.0, 7.0]), out

    work = dist.all_reduce(torch.ones(3), async_op=True)
    assert work.wait() is True and work.is_completed()

    peer = 1 - rank
    received = torch.zeros(3)
    recv_work = dist.irecv(received, src=peer)
    dist.isend(torch.full((3,), 10.0 + rank), dst=peer).wait()
    recv_work.wait()
    assert received.tolist() == [10.0 + peer] * 3, received

    objects = [None, None]
    dist.all_gather_object(objects, {"rank": rank})
    assert objects == [{"rank": 0}, {"rank": 1}], objects
    shared = [f"from {rank}", rank]
    dist.broadcast_object_list(shared, src=0)
    assert shared == ["from 0", 0], shared

    solo = dist.new_group([1])
    if rank == 1:
        assert dist.get_rank(solo) == 0 and dist.get_world_size(solo) == 1
    else:
        assert dist.get_rank(solo) == -1
    check_exchanges(rank, world)
    sampler = torch.utils.data.DistributedSampler(range(10), shuffle=False)
    assert list(sampler) == list(range(rank, 10, 2)), list(sampler)


def check_exchanges(rank, world):
    # all_to_all: rank r's inputs[j] lands in rank j's outputs[r]
    outputs = [torch.zeros(2, dtype=torch.int64) for _ in range(world)]
    dist.all_to_all(outputs, [torch.tensor([10 * rank + j, -j]) for j in range(world)])
    assert [o.tolist() for o in outputs] == [[10 * r + rank, -rank] for r in range(world)], outputs
    # uneven rows: rank 0 sends 1 row to itself and 2 to rank 1; rank 1 sends 3 to rank 0 and none to itself
    sends = [[1, 2], [3, 0]][rank]
    receives = [sends_r[rank] for sends_r in [[1, 2], [3, 0]]]
    source = torch.arange(float(sum(sends)) * 2).reshape(-1, 2) + 100 * rank
    target = torch.zeros(sum(receives), 2).t().contiguous().t()   # any layout of the output is written
    work = dist.all_to_all_single(target, source, receives, sends, async_op=True)
    work.wait()
    expected = {0: [[0.0, 1.0], [100.0, 101.0], [102.0, 103.0], [104.0, 105.0]], 1: [[2.0, 3.0], [4.0, 5.0]]}[rank]
    assert target.tolist() == expected, target
    try:
        dist.all_to_all_single(torch.zeros(4), torch.zeros(4), [1, 1, 2], None)
    except RuntimeError as e:
        assert "Number of tensor splits not equal to group size" in str(e), e
    else:
        raise AssertionError("bad split sizes accepted")

    # batched point to point: a ring, sends listed before receives on both ranks
    peer = 1 - rank
    got = torch.zeros(3)
    ops = [dist.P2POp(dist.isend, torch.full((3,), 5.0 + rank), peer), dist.P2POp(dist.irecv, got, peer)]
    for work in dist.batch_isend_irecv(ops):
        work.wait()
    assert got.tolist() == [5.0 + peer] * 3, got
    if rank == 0:
        dist.send_object_list([{"a": 1}, "two", 3.0], dst=1)
    else:
        objects = [None, None, None]
        assert dist.recv_object_list(objects, src=0) == 0
        assert objects == [{"a": 1}, "two", 3.0], objects

    mine, everyone = dist.new_subgroups(group_size=1)
    assert len(everyone) == 2 and dist.get_world_size(mine) == 1 and dist.get_rank(mine) == 0
    t = torch.tensor([float(rank + 1)])
    dist.all_reduce(t, group=mine)
    assert t.tolist() == [rank + 1.0], t


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()


def train(model, inputs, targets, steps, lr=0.1):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(inputs), targets).backward()
        opt.step()


def check_ddp(rank, world):
    gen = np.random.default_rng(1)
    inputs = torch.tensor(gen.standard_normal((8, 4)))
    targets = torch.tensor(gen.standard_normal((8, 1)))
    reference = make_model()
    train(reference, inputs, targets, steps=3)

    local = make_model()
    if rank == 1:  # different start: DDP's construction broadcasts rank 0's parameters
        with torch.no_grad():
            for p in local.parameters():
                p.add_(1.0)
    # a tiny bucket cap: several buckets, reduced while backward still runs
    ddp = DistributedDataParallel(local, bucket_cap_mb=1e-4)
    assert len(ddp._buckets) > 1
    half = slice(rank * 4, rank * 4 + 4)
    train(ddp, inputs[half], targets[half], steps=3)
    for (name, ours), ref in zip(ddp.module.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=f"parameter {name} after 3 DDP steps")
    assert list(ddp.state_dict())[0] == "module.0.weight"

    # no_sync: local gradients add up; the next synchronised backward averages the sums
    ddp.zero_grad()
    with ddp.no_sync():
        torch.nn.functional.mse_loss(ddp(inputs[half]), targets[half]).backward()
    torch.nn.functional.mse_loss(ddp(inputs[half]), targets[half]).backward()
    reference.zero_grad()
    torch.nn.functional.mse_loss(reference(inputs), targets).backward()
    for ours, ref in zip(ddp.module.parameters(), reference.parameters()):
        np.testing.assert_allclose(ours.grad.numpy(), 2 * ref.grad.numpy(), rtol=1e-12, atol=1e-12)


def main():
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    assert world == 2, world
    check_collectives(rank, world)
    check_ddp(rank, world)
    dist.barrier()
    dist.destroy_process_group()
    print(f"rank {rank} ok", flush=True)


if __name__ == "__main__":
    main()
