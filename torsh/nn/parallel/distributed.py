"""DistributedDataParallel: one model replica per process, gradients averaged over the process group.

At construction the parameters and buffers are broadcast from rank 0, so every replica starts equal. Each
parameter gets a post-accumulate-grad hook; parameters are grouped into buckets (reverse registration order,
about the order backward produces gradients, ``bucket_cap_mb`` each). When every gradient of a bucket has been
accumulated, the bucket's gradients are copied into one flat array and its all-reduce starts (non-blocking), so
communication overlaps the rest of backward; when the last bucket has started, all are waited for and the
averages written back into ``.grad``. ``no_sync()`` skips that, so gradients accumulate locally until the next
synchronised backward, which averages the accumulated ``.grad`` as PyTorch does.
"""
import contextlib

import numpy as np

from ... import distributed as dist
from ..._array_api import array, bump_version, wrap
from ...autograd import grad_mode
from ...autograd.graph import AccumulateGrad
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_UNFINISHED = ("Expected to have finished reduction in the prior iteration before starting a new one. This error "
               "indicates that your module has parameters that were not used in producing loss. You can enable "
               "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
               "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
               "participate in calculating loss.")


class _Bucket:
    """Parameters whose gradients are all-reduced together, through one flat array of their dtype."""

    def __init__(self, params):
        self.params = params
        self.flat = np.empty(sum(p.numel() for p in params), dtype=array(params[0]).dtype)
        self.pending = len(params)
        self.unused = set()  # parameters the forward did not reach (find_unused_parameters)

    def fill(self):
        offset = 0
        for p in self.params:
            n = p.numel()
            grad = None if p.grad is None or id(p) in self.unused else array(p.grad)
            self.flat[offset:offset + n] = 0 if grad is None else grad.reshape(-1)
            offset += n

    def write_back(self, world_size):
        self.flat /= world_size
        offset = 0
        for p in self.params:
            part = self.flat[offset:offset + p.numel()].reshape(tuple(p.shape))
            offset += p.numel()
            if id(p) in self.unused and not part.any():
                continue  # unused here and (as far as the sum tells) everywhere: .grad left as it was
            if p.grad is None:
                p.grad = wrap(part.copy())
            else:
                array(p.grad)[...] = part
                bump_version(p.grad)


def _buckets(params, cap_bytes):
    """Reverse order, one dtype per bucket, each up to ``cap_bytes`` (a parameter larger alone)."""
    buckets, current, size = [], [], 0
    for p in reversed(params):
        nbytes = array(p).nbytes
        if current and (size + nbytes > cap_bytes or array(current[0]).dtype != array(p).dtype):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _reached_parameters(outputs):
    """ids of the leaf tensors the autograd graph of ``outputs`` reaches."""
    roots = [t.grad_fn for t in _tensors_in(outputs) if getattr(t, "grad_fn", None) is not None]
    seen, reached, stack = set(), set(), roots
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            reached.add(id(node.variable))
        stack.extend(edge[0] for edge in node.next_functions)
    return reached


def _tensors_in(obj):
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _tensors_in(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _tensors_in(item)]
    return [obj] if hasattr(obj, "grad_fn") else []


class DistributedDataParallel(Module):
    """``module`` replicated in each process of ``process_group`` (default: the default group); gradients are
    averaged over the group during backward. State-dict keys carry the ``module.`` prefix, as in PyTorch."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=None, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None,
                 skip_all_reduce_unused_params=False, bucket_cap_mb_list=None, batched_grad_copy=False,
                 forward_sync_buffers=None):
        group = dist.distributed_c10d.default_group(process_group)
        super().__init__()
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self.module = module
        self.process_group = group
        self.broadcast_buffers = True if broadcast_buffers is None else broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.dim = dim
        self.device_ids = None
        self.output_device = None
        self.static_graph = static_graph
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self._world_size = dist.get_world_size(group)
        if init_sync:
            self._broadcast(list(module.parameters()) + list(module.buffers()))
        self._buckets = _buckets(params, self.bucket_bytes_cap)
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._syncing = False   # this forward's backward averages gradients
        self._works = []        # the started all-reduces of this backward
        for p in params:
            p.register_post_accumulate_grad_hook(self._grad_ready)

    def _broadcast(self, tensors):
        if self._world_size > 1:
            for t in tensors:
                dist.broadcast(t.detach(), src=dist.get_global_rank(self.process_group, 0),
                               group=self.process_group)

    @contextlib.contextmanager
    def no_sync(self):
        """Backwards run inside accumulate gradients locally; the first synchronised one averages the sums."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def forward(self, *inputs, **kwargs):
        self._prepare_forward()
        outputs = self.module(*inputs, **kwargs)
        if self._syncing and self.find_unused_parameters:
            self._mark_unused(_reached_parameters(outputs))
        return outputs

    def _prepare_forward(self):
        if any(b.pending < len(b.params) for b in self._buckets) and self._syncing:
            raise RuntimeError(_UNFINISHED)
        if self.broadcast_buffers and self.require_forward_param_sync:
            self._broadcast(list(self.module.buffers()))
        self._syncing = (self._world_size > 1 and self.require_backward_grad_sync
                         and grad_mode.is_grad_enabled())
        self._works = []
        for b in self._buckets:
            b.pending = len(b.params)
            b.unused = set()

    def _mark_unused(self, reached):
        for b in self._buckets:
            b.unused = {id(p) for p in b.params if id(p) not in reached}
            b.pending -= len(b.unused)
        for b in self._buckets:
            if b.pending == 0:
                self._launch(b)

    def _grad_ready(self, param):
        if not self._syncing:
            return
        bucket = self._bucket_of[id(param)]
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch(bucket)

    def _launch(self, bucket):
        bucket.fill()
        self._works.append((bucket, dist.all_reduce(wrap(bucket.flat), group=self.process_group, async_op=True)))
        if len(self._works) == len(self._buckets):
            self._finish()

    def _finish(self):
        for bucket, work in self._works:
            work.wait()
            bucket.write_back(self._world_size)
        self._syncing = False
        self._works = []
