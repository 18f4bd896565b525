"""Shared helpers for the torsh.nn tests: build a layer in torsh and torch with the same weights
and compare outputs, input gradients, parameter gradients and buffers.

(Named test_nn_* so it lives with the nn tests; it holds no tests itself.)
"""
import numpy as np

import torsh
import torsh.nn  # noqa: F401
from helpers import assert_close, make_array, torch_ref

torch = torch_ref


def numpy_state(module):
    """A torch module's state dict as NumPy arrays, as a user would convert it."""
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def build_pair(make, dtype="float64", seed=0):
    """``make(lib)`` in both libraries; torsh gets torch's weights through load_state_dict."""
    torch.manual_seed(seed)
    ref = make(torch)
    ours = make(torsh)
    if dtype == "float64":
        ref = ref.double()
        ours = ours.double()
    assert list(ours.state_dict().keys()) == list(ref.state_dict().keys())
    result = ours.load_state_dict(numpy_state(ref))
    assert not result.missing_keys and not result.unexpected_keys
    return ours, ref


def _flat(out):
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(_flat(o))
        return res
    if out is None:
        return []
    return [out]


def run_and_compare(ours, ref, input_arrays, *, train=True, rtol=1e-6, atol=1e-7, kwargs_fn=None,
                    grad_inputs=True, check_grads=True, call=None):
    """Forward both modules on the same inputs; compare outputs, input/param grads and buffers."""
    ours.train(train)
    ref.train(train)
    ins_o, ins_r = [], []
    for a in input_arrays:
        a = np.asarray(a)
        req = grad_inputs and a.dtype.kind == "f"
        ins_o.append(torsh.tensor(a.copy(), requires_grad=req))
        ins_r.append(torch.tensor(a.copy(), requires_grad=req))
    kw_o = kwargs_fn(torsh) if kwargs_fn else {}
    kw_r = kwargs_fn(torch) if kwargs_fn else {}
    out_o = call(ours, *ins_o, **kw_o) if call else ours(*ins_o, **kw_o)
    out_r = call(ref, *ins_r, **kw_r) if call else ref(*ins_r, **kw_r)
    flat_o, flat_r = _flat(out_o), _flat(out_r)
    assert len(flat_o) == len(flat_r)
    for o, r in zip(flat_o, flat_r):
        assert_close(o, r.detach(), rtol=rtol, atol=atol, msg="output: ")
    if check_grads:
        loss_o, loss_r = None, None
        for i, (o, r) in enumerate(zip(flat_o, flat_r)):
            if not r.requires_grad:
                continue
            w = make_array(tuple(r.shape), "float64", seed=11 + i)
            t_o = (o * torsh.tensor(w).to(o.dtype)).sum()
            t_r = (r * torch.tensor(w).to(r.dtype)).sum()
            loss_o = t_o if loss_o is None else loss_o + t_o
            loss_r = t_r if loss_r is None else loss_r + t_r
        if loss_r is not None:
            loss_r.backward()
            loss_o.backward()
            for k, (a, b) in enumerate(zip(ins_o, ins_r)):
                if b.grad is not None:
                    assert_close(a.grad, b.grad, rtol=rtol, atol=atol, msg=f"input {k} grad: ")
            params_r = dict(ref.named_parameters())
            for name, p in ours.named_parameters():
                pr = params_r[name]
                if pr.grad is None:
                    assert p.grad is None or not np.any(p.grad.numpy()), f"{name}: grad where torch has none"
                else:
                    assert p.grad is not None, f"{name}: no grad"
                    assert_close(p.grad, pr.grad, rtol=rtol, atol=atol, msg=f"param {name} grad: ")
    bufs_r = dict(ref.named_buffers())
    for name, b in ours.named_buffers():
        assert_close(b, bufs_r[name], rtol=rtol, atol=atol, msg=f"buffer {name}: ")
    return out_o, out_r


def compare_module(make, input_shapes_or_arrays, *, modes=(True, False), dtype="float64", seed=0, **kw):
    """Build with ``make(lib)``, then compare in each of train and eval mode."""
    arrays = [make_array(s, dtype, seed=5 + i) if isinstance(s, tuple) else s
              for i, s in enumerate(input_shapes_or_arrays)]
    for train in modes:
        ours, ref = build_pair(make, dtype=dtype, seed=seed)
        run_and_compare(ours, ref, arrays, train=train, **kw)
