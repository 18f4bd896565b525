"""Complex forward and reverse mode against torch 2.13 (its conjugate conventions): a holomorphic f has
tangent f'(z) t and gradient g * conj(f'(z)); non-holomorphic ops (abs, angle, real, imag, conj) follow
the same R-linear maps as PyTorch's."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, needs_torch, torch_ref

pytestmark = needs_torch

Z = np.array([0.3 + 0.4j, -0.7 + 0.2j, 0.5 - 0.9j])
T = np.array([1.0 + 0.5j, -0.3 + 1.0j, 0.2 - 0.4j])
W = np.array([0.6 - 0.2j, 0.1 + 0.8j, -0.5 + 0.3j])

OPS = {
    **{name: (lambda name: lambda lib, z: getattr(lib, name)(z))(name)
       for name in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin", "cos", "tan",
                    "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "atanh", "reciprocal", "neg", "sinc")},
    "abs": lambda lib, z: lib.abs(z),
    "angle": lambda lib, z: lib.angle(z),
    "real": lambda lib, z: z.real * 1,
    "imag": lambda lib, z: z.imag * 1,
    "conj": lambda lib, z: z.conj() * 1,
    "mul": lambda lib, z: z * lib.tensor(W),
    "div": lambda lib, z: lib.tensor(W) / z,
    "matmul": lambda lib, z: lib.tensor(np.outer(W, W)) @ z,
    "sum": lambda lib, z: z.sum(),
    "prod": lambda lib, z: z.prod(),
    "prod_dim": lambda lib, z: z.reshape(3, 1).prod(1),
    "cumprod": lambda lib, z: z.cumprod(0),
    "cumprod_with_zero": lambda lib, z: (z * lib.tensor([1.0, 0.0, 1.0])).cumprod(0),
    "abs_squared": lambda lib, z: (z * z.conj()).real,
    "vector_norm": lambda lib, z: lib.linalg.vector_norm(z),
    "composite": lambda lib, z: (z.exp() * z.sin() / (z + 2)).log(),
    "pow_scalar": lambda lib, z: z ** 2.5,
    "pow_int": lambda lib, z: z ** 3,
    "pow_tensor_base": lambda lib, z: z ** lib.tensor(W),
    "pow_tensor_exponent": lambda lib, z: lib.tensor(W) ** z,
    "scalar_pow": lambda lib, z: 2.0 ** z,
    "float_power": lambda lib, z: lib.float_power(z, lib.tensor(W)),
    "float_power_scalar": lambda lib, z: lib.float_power(z, 2.5),
    "logaddexp": lambda lib, z: lib.logaddexp(z, lib.tensor(W)),
    "sgn": lambda lib, z: z.sgn(),
}


def _tangent(lib, name):
    fw = lib.autograd.forward_ad
    with fw.dual_level():
        out = OPS[name](lib, fw.make_dual(lib.tensor(Z), lib.tensor(T)))
        return fw.unpack_dual(out).tangent.resolve_conj()


def _gradient(lib, name):
    z = lib.tensor(Z, requires_grad=True)
    out = OPS[name](lib, z)
    seed = lib.tensor(np.resize(W, out.shape) if out.is_complex() else np.resize(W.real, out.shape))
    return lib.autograd.grad(out, z, seed)[0].resolve_conj()


@pytest.mark.parametrize("name", sorted(OPS))
def test_complex_tangent_matches_pytorch(name):
    assert_close(_tangent(torsh, name), _tangent(torch_ref, name))


@pytest.mark.parametrize("name", sorted(OPS))
def test_complex_gradient_matches_pytorch(name):
    assert_close(_gradient(torsh, name), _gradient(torch_ref, name))
