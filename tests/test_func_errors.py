"""torch.func's errors, type and wording as torch 2.13's: a data-dependent Python branch or .item() under vmap,
an in-place op writing a batched value into a captured tensor, a grad-ed function returning a non-tensor /
non-scalar, vjp/jvp with non-tensor outputs, jvp with mismatched tangents, nested dual levels."""
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch


def _enter_twice(lib):
    fw = lib.autograd.forward_ad
    fw.enter_dual_level()
    try:
        fw.enter_dual_level()
    finally:
        fw.exit_dual_level()


CASES = {
    "branch": lambda lib, x, y: lib.func.vmap(lambda a: a * 2 if a.sum() > 0 else a)(x),
    "item": lambda lib, x, y: lib.func.vmap(lambda a: a.sum().item())(x),
    "inplace_captured_add": lambda lib, x, y: lib.func.vmap(lambda a: y.add_(a))(x),
    "inplace_captured_mul": lambda lib, x, y: lib.func.vmap(lambda a: y.mul_(a))(x),
    "grad_non_tensor": lambda lib, x, y: lib.func.grad(lambda a: 3.0)(y),
    "grad_tuple": lambda lib, x, y: lib.func.grad(lambda a: (a.sum(), a.sum()))(y),
    "grad_non_scalar": lambda lib, x, y: lib.func.grad(lambda a: a * 2)(y),
    "vjp_non_tensor": lambda lib, x, y: lib.func.vjp(lambda a: 3.0, y),
    "vjp_int_output": lambda lib, x, y: lib.func.vjp(lambda a: a.long(), y),
    "jvp_shape": lambda lib, x, y: lib.func.jvp(lambda a: a * 2, (y,), (lib.ones(3),)),
    "jvp_int_primal": lambda lib, x, y: lib.func.jvp(lambda a: a * 2, (y.long(),), (y.long(),)),
    "jvp_structure": lambda lib, x, y: lib.func.jvp(lambda a, b: a * b, (y, y), (y,)),
    "jvp_non_tensor": lambda lib, x, y: lib.func.jvp(lambda a: 3.0, (y,), (y,)),
    "jvp_primals_not_tuple": lambda lib, x, y: lib.func.jvp(lambda a: a, y, (y,)),
    "nested_dual_levels": lambda lib, x, y: _enter_twice(lib),
    "make_dual_shape": lambda lib, x, y: lib.autograd.forward_ad.dual_level()(
        lambda: lib.autograd.forward_ad.make_dual(y, lib.ones(3)))(),
}


@pytest.mark.parametrize("name", CASES)
def test_error_as_pytorch(name):
    def run(lib):
        with pytest.raises(Exception) as info:
            CASES[name](lib, lib.ones(3, 2), lib.ones(2))
        return info.value
    ours, ref = run(torsh), run(torch_ref)
    assert type(ours) is type(ref)
    assert str(ours).replace(torsh.__name__ + ".", "torch.") == str(ref)


def test_jvp_accepts_a_tangent_of_another_float_dtype_as_pytorch():
    def run(lib):
        y = lib.ones(2)
        return lib.func.jvp(lambda a: a * 2, (y,), (lib.ones(2, dtype=lib.float64),))[1]
    ours, ref = run(torsh), run(torch_ref)
    assert ours.dtype.is_floating_point and ours.tolist() == ref.tolist()
