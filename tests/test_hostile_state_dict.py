"""Module.load_state_dict with load_state_dict post hooks, against PyTorch 2.13: the hooks see the
missing/unexpected key lists before the strict check and may edit them (a hook clearing the missing keys
makes a strict load succeed; one adding an unexpected key makes it fail)."""
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref as torch

pytestmark = needs_torch


def _net(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Linear(4, 2))


def _state(lib):
    return {k: v + 1 for k, v in _net(lib).state_dict().items()}


def test_post_hook_adding_an_unexpected_key_fails_a_strict_load():
    def load(lib):
        net = _net(lib)
        net.register_load_state_dict_post_hook(lambda module, keys: keys.unexpected_keys.append("zzz"))
        return net.load_state_dict(_state(lib))
    check_same_error(load)


def test_post_hook_clearing_missing_keys_lets_a_strict_load_succeed():
    def load(lib):
        net = _net(lib)
        net.register_load_state_dict_post_hook(lambda module, keys: keys.missing_keys.clear())
        state = _state(lib)
        del state["1.bias"]
        result = net.load_state_dict(state)
        return net, result
    (ours, ours_result), (ref, ref_result) = load(torsh), load(torch)
    assert ours_result.missing_keys == ref_result.missing_keys == []
    for (name, a), (_, b) in zip(ours.state_dict().items(), ref.state_dict().items()):
        assert_close(a, b.detach(), msg=name)


@pytest.mark.parametrize("strict", [True, False])
def test_post_hooks_of_submodules_see_the_keys(strict):
    def load(lib):
        net = _net(lib)
        seen = []
        net[1].register_load_state_dict_post_hook(
            lambda module, keys: seen.append((list(keys.missing_keys), list(keys.unexpected_keys))))
        state = _state(lib)
        state["extra"] = lib.ones(1)
        del state["0.bias"]
        try:
            net.load_state_dict(state, strict=strict)
        except RuntimeError as e:
            return seen, str(e).replace(lib.__name__, "")
        return seen, None
    assert load(torsh) == load(torch)


def test_shape_error_with_a_post_hook_still_changes_nothing():
    net = _net(torsh)
    calls = []
    net.register_load_state_dict_post_hook(lambda module, keys: calls.append(1))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = _state(torsh)
    state["1.weight"] = torsh.ones(5, 5)
    check_same_error(lambda lib: (_net(lib) if lib is torch else net).load_state_dict(
        state if lib is torsh else {**_state(torch), "1.weight": torch.ones(5, 5)}))
    assert all(torsh.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_assign_of_an_integer_tensor_to_a_parameter_fails_before_copying(dtype):
    def load(lib):
        net = _net(lib)
        state = _state(lib)
        state["1.weight"] = lib.ones(2, 4, dtype=getattr(lib, dtype))
        return net.load_state_dict(state, assign=True)
    check_same_error(load)
    net = _net(torsh)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(RuntimeError):
        net.load_state_dict({**_state(torsh), "1.weight": torsh.ones(2, 4, dtype=torsh.int64)}, assign=True)
    assert all(torsh.equal(before[k], v) for k, v in net.state_dict().items())


def test_assign_of_an_integer_tensor_to_a_frozen_parameter_loads():
    def load(lib):
        net = _net(lib)
        net[1].weight.requires_grad_(False)
        net.load_state_dict({**_state(lib), "1.weight": lib.ones(2, 4, dtype=lib.int64)}, assign=True)
        return net[1].weight
    ours, ref = load(torsh), load(torch)
    assert type(ours).__name__ == type(ref).__name__ and ours.requires_grad == ref.requires_grad
    assert_close(ours.detach(), ref.detach())
