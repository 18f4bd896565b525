"""torsh.testing.assert_close / make_tensor against torch.testing (exception types and message text)."""
import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch


def _outcome(lib, case):
    """(exception type name, message with the library's name blanked) or None when ``case`` passes."""
    try:
        case(lib)
    except Exception as e:  # noqa: BLE001
        msg = str(e).replace("torsh._tensor.Tensor", "torsh.Tensor")
        return type(e).__name__, msg.replace("torch.", "LIB.").replace("torsh.", "LIB.")
    return None


CASES = {
    "one_mismatch": lambda L: L.testing.assert_close(L.tensor([1., 2, 3]), L.tensor([1., 2.5, 3])),
    "2d_index": lambda L: L.testing.assert_close(L.tensor([[1., 2], [3, 4]]), L.tensor([[1., 2], [3, 5]])),
    "ints_equal": lambda L: L.testing.assert_close(L.tensor([1, 2, 3]), L.tensor([1, 2, 4])),
    "uint8": lambda L: L.testing.assert_close(L.tensor([[1, 5], [7, 9]], dtype=L.uint8),
                                              L.tensor([[1, 6], [3, 9]], dtype=L.uint8)),
    "dtype": lambda L: L.testing.assert_close(L.tensor([1., 2]), L.tensor([1., 2], dtype=L.float64)),
    "no_check_dtype": lambda L: L.testing.assert_close(L.tensor([1, 2]), L.tensor([1., 2.5]), check_dtype=False),
    "shape": lambda L: L.testing.assert_close(L.tensor([1., 2, 3]), L.tensor([1., 2])),
    "0d": lambda L: L.testing.assert_close(L.tensor(1.), L.tensor(2.)),
    "floats": lambda L: L.testing.assert_close(1.0, 2.0),
    "ints": lambda L: L.testing.assert_close(1, 2),
    "int_vs_float": lambda L: L.testing.assert_close(1, 1.0),
    "int_vs_float_unchecked": lambda L: L.testing.assert_close(1, 1.0, check_dtype=False),
    "none": lambda L: L.testing.assert_close(None, 1),
    "bools": lambda L: L.testing.assert_close(True, False),
    "list_item": lambda L: L.testing.assert_close([L.tensor(1.)], [L.tensor(2.)]),
    "dict_item": lambda L: L.testing.assert_close({"a": L.tensor(1.)}, {"a": L.tensor(2.)}),
    "nested": lambda L: L.testing.assert_close((L.tensor([1.]), {"x": [2.0, L.tensor([3., 4.])]}),
                                               (L.tensor([1.]), {"x": [2.0, L.tensor([3., 4.1])]})),
    "lengths": lambda L: L.testing.assert_close([1.], [1., 2.]),
    "keys": lambda L: L.testing.assert_close({"a": 1.}, {"b": 1.}),
    "tensor_vs_list": lambda L: L.testing.assert_close(L.tensor([1.]), [1.]),
    "tensor_vs_float": lambda L: L.testing.assert_close(L.tensor([1.]), 1.0),
    "nan": lambda L: L.testing.assert_close(L.tensor([float("nan")]), L.tensor([float("nan")])),
    "nan_equal": lambda L: L.testing.assert_close(L.tensor([float("nan")]), L.tensor([float("nan")]), equal_nan=True),
    "inf": lambda L: L.testing.assert_close(L.tensor([1., float("inf")]), L.tensor([1., float("-inf")])),
    "zero_expected": lambda L: L.testing.assert_close(L.tensor([0., 1]), L.tensor([0.5, 1.])),
    "msg_str": lambda L: L.testing.assert_close(L.tensor([1.]), L.tensor([2.]), msg="custom"),
    "msg_callable": lambda L: L.testing.assert_close([L.tensor([1.])], [L.tensor([2.])], msg=lambda m: "X" + m),
    "rtol_only": lambda L: L.testing.assert_close(L.tensor([1.]), L.tensor([2.]), rtol=1e-3),
    "explicit_tols": lambda L: L.testing.assert_close(L.tensor([1.]), L.tensor([1.0001]), rtol=0, atol=1e-3),
    "bool_tensors": lambda L: L.testing.assert_close(L.tensor([True, False]), L.tensor([True, True])),
    "complex": lambda L: L.testing.assert_close(L.tensor([1. + 1j]), L.tensor([1. + 2j])),
    "stride": lambda L: L.testing.assert_close(L.ones(2, 3), L.ones(3, 2).t(), check_stride=True),
    "stride_unchecked": lambda L: L.testing.assert_close(L.ones(2, 3), L.ones(3, 2).t()),
    "float16_default_tol": lambda L: L.testing.assert_close(L.tensor([1.], dtype=L.float16),
                                                            L.tensor([1.01], dtype=L.float16)),
    "bfloat16_default_tol": lambda L: L.testing.assert_close(L.tensor([1.], dtype=L.bfloat16),
                                                             L.tensor([1.1], dtype=L.bfloat16)),
    "within_float32_tol": lambda L: L.testing.assert_close(L.tensor([1.]), L.tensor([1.000001])),
    "numpy_arrays": lambda L: L.testing.assert_close(np.array([1., 2.]), np.array([1., 3.])),
    "requires_grad": lambda L: L.testing.assert_close(L.tensor([1., 2.], requires_grad=True), L.tensor([1., 2.])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_assert_close_matches_torch(name):
    ours, ref = _outcome(torsh, CASES[name]), _outcome(torch_ref, CASES[name])
    assert ours == ref


def test_make_tensor_range_dtype_and_flags():
    t = torsh.testing.make_tensor(3, 4, dtype=torsh.float32, device="cpu", low=-2, high=3)
    assert t.shape == (3, 4) and t.dtype == torsh.float32
    assert bool((t >= -2).all()) and bool((t < 3).all())
    ints = torsh.testing.make_tensor((50,), dtype=torsh.int8, device="cpu", exclude_zero=True)
    assert ints.dtype == torsh.int8 and bool((ints != 0).all()) and bool((ints >= -9).all() & (ints < 10).all())
    nc = torsh.testing.make_tensor(2, 3, dtype=torsh.float64, device="cpu", noncontiguous=True, requires_grad=True)
    assert nc.shape == (2, 3) and not nc.is_contiguous() and nc.requires_grad
    c = torsh.testing.make_tensor(4, dtype=torsh.complex64, device="cpu")
    assert c.dtype == torsh.complex64


@pytest.mark.parametrize("kwargs", [dict(low=3, high=1), dict(low=float("nan")), dict(requires_grad=True)])
def test_make_tensor_errors_match_torch(kwargs):
    def make(L):
        return L.testing.make_tensor(2, dtype=L.int64, device="cpu", **kwargs)
    ours, ref = _outcome(torsh, make), _outcome(torch_ref, make)
    assert ours == ref and ref is not None


# -- torch.testing.assert_allclose (deprecated) -----------------------------------------------------------------
def test_assert_allclose_warns_and_compares_as_torch():
    import warnings

    import numpy as np
    import pytest
    import torch

    import torsh

    cases = [([1.0, 2.0], [1.0, 2.00001], {}), ([1.0, 2.0], [1.0, 2.1], {}), ([1.0, float("nan")], [1.0, float("nan")], {}),
             ([1, 2], [1.0, 2.0], {}), ([1.0, float("nan")], [1.0, float("nan")], {"equal_nan": False}),
             ([1.0, 2.0], [1.0, 2.5], {"rtol": 0.3, "atol": 0.0})]
    for actual, expected, kwargs in cases:
        outcomes = []
        for lib in (torsh, torch):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    lib.testing.assert_allclose(lib.tensor(np.array(actual)), expected, **kwargs)
                    outcomes.append(None)
                except AssertionError as e:
                    outcomes.append(type(e))
            assert [w.category for w in caught] == [FutureWarning]
            assert "`torch.testing.assert_allclose()` is deprecated since 1.12" in str(caught[0].message)
        assert outcomes[0] == outcomes[1], (actual, expected, kwargs)
    with pytest.warns(FutureWarning):
        with pytest.raises(ValueError, match="Both 'rtol' and 'atol' must be either specified or omitted"):
            torsh.testing.assert_allclose(torsh.ones(1), torsh.ones(1), rtol=0.1)
