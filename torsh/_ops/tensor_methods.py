"""Tensor methods PyTorch keeps for legacy or sparse/stream APIs, on strided CPU tensors: apply_/map_/map2_
(Python callables per element), const_data_ptr, dim_order, to_dense, dense_dim, new_empty_strided, and the
attributes and methods that only report or refuse (volatile, name, grad_dtype, is_coalesced, coalesce,
reinforce), with PyTorch's errors."""
import numpy as np

from .._tensor import Tensor, wrap

__all__ = []


def _no_grad_for(op, t):
    if t._requires_grad:
        raise RuntimeError(f"Can't call {op}() on Variable that requires grad. Use var.detach().{op}() instead.")


def _write_elementwise(self, values):
    """Write the Python ``values`` (one per element, C order) into self and bump its version."""
    self._data[...] = np.array(values, dtype=self._data.dtype).reshape(self._data.shape)
    self._version_counter[0] += 1
    return self


def apply_(self, callable):
    """Replace each element x by callable(x) (a Python number), in place; refused under autograd, as torch."""
    _no_grad_for("apply_", self)
    return _write_elementwise(self, [callable(v) for v in self._data.reshape(-1).tolist()])


def map_(self, tensor, callable):
    """self[i] = callable(self[i], tensor[i]) with ``tensor`` broadcast to self's shape."""
    _no_grad_for("map_", self)
    other = tensor.expand(*self._data.shape)._data.reshape(-1).tolist()
    return _write_elementwise(self, [callable(a, b) for a, b in zip(self._data.reshape(-1).tolist(), other)])


def map2_(self, x, y, callable):
    """self[i] = callable(self[i], x[i], y[i]) with ``x`` and ``y`` broadcast to self's shape."""
    _no_grad_for("map2_", self)
    xs = x.expand(*self._data.shape)._data.reshape(-1).tolist()
    ys = y.expand(*self._data.shape)._data.reshape(-1).tolist()
    return _write_elementwise(self, [callable(a, b, c) for a, b, c in zip(self._data.reshape(-1).tolist(), xs, ys)])


def const_data_ptr(self):
    return self.data_ptr()


def dim_order(self, *, ambiguity_check=False):
    """The dims from outermost to innermost in memory (by decreasing stride, ties kept in dim order)."""
    strides = self.stride()
    return tuple(sorted(range(self._data.ndim), key=lambda d: -strides[d]))


def to_dense(self, dtype=None, *, masked_grad=True):
    """A strided tensor is dense already: self (converted to ``dtype`` if given)."""
    return self if dtype is None or dtype is self.dtype else self.to(dtype)


def dense_dim(self):
    return self._data.ndim


def _sparse_only(op):
    def method(self, *args, **kwargs):
        raise RuntimeError(f"{op} expected sparse coordinate tensor layout but got Strided")
    method.__name__ = op
    return method


def reinforce(self, reward):
    raise RuntimeError("reinforce() was removed.\nUse torch.distributions instead.\nSee "
                       "https://pytorch.org/docs/main/distributions.html\n\nInstead of:\n\nprobs = policy_network(state)\n"
                       "action = probs.multinomial()\nnext_state, reward = env.step(action)\naction.reinforce(reward)\n"
                       "action.backward()\n\nUse:\n\nprobs = policy_network(state)\n# NOTE: categorical is equivalent "
                       "to what used to be called multinomial\nm = torch.distributions.Categorical(probs)\n"
                       "action = m.sample()\nnext_state, reward = env.step(action)\nloss = -m.log_prob(action) * reward\n"
                       "loss.backward()\n")


def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False, layout=None,
                      pin_memory=False):
    """An uninitialised tensor with the given sizes and strides (in elements), self's dtype by default."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    np_dtype = (self.dtype if dtype is None else dtype).np
    span = 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    buffer = np.empty(max(span, 0), dtype=np_dtype)
    array = np.lib.stride_tricks.as_strided(buffer, size, tuple(s * buffer.itemsize for s in stride))
    out = wrap(array)
    return out.requires_grad_() if requires_grad else out


for _fn in (apply_, map_, map2_, const_data_ptr, dim_order, to_dense, dense_dim, reinforce, new_empty_strided):
    setattr(Tensor, _fn.__name__, _fn)
Tensor.is_coalesced = _sparse_only("is_coalesced")
Tensor.coalesce = _sparse_only("coalesce")
# attributes of the autograd of old (Variable) or of named tensors that PyTorch still reports
Tensor.volatile = property(lambda self: False)
Tensor.name = property(lambda self: None)
Tensor.grad_dtype = property(lambda self: self.dtype)
