"""Module.load_state_dict and Optimizer.load_state_dict are all-or-nothing: a value that cannot be
loaded leaves every parameter, buffer and optimizer state as it was (values, versions, identity),
and the error is PyTorch 2.13's."""
import copy
import warnings

import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref as torch

pytestmark = needs_torch


def _model(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 2))


def _good_state(model):
    """Every entry replaced by a distinct value, so a partial load would show."""
    return {k: (v + 1 if v.is_floating_point() else v + 5) for k, v in model.state_dict().items()}


def _snapshot(model):
    entries = {}
    for prefix, module in model.named_modules():
        for name, t in list(module._parameters.items()) + list(module._buffers.items()):
            entries[f"{prefix}.{name}"] = (t, id(t._data) if hasattr(t, "_data") else None, t._version,
                                           t.detach().clone(), t.requires_grad, t.dtype)
    return entries


def _assert_unchanged(model, snapshot):
    now = _snapshot(model)
    assert now.keys() == snapshot.keys()
    for key, (t, data_id, version, values, requires_grad, dtype) in snapshot.items():
        t2, data_id2, version2, _, requires_grad2, dtype2 = now[key]
        assert t2 is t, f"{key} was replaced"
        assert data_id2 == data_id and version2 == version, f"{key} was written (version {version} -> {version2})"
        assert torsh.equal(t2.detach(), values) and requires_grad2 == requires_grad and dtype2 is dtype, key


def _normalised(message):
    return message.replace("torsh.Size", "torch.Size")


# (id, key replaced in a good state dict, value for torsh, value for torch); the bad entry is in the
# last layer, after entries a non-atomic load would already have copied
BAD_VALUES = [
    ("numpy-str-array", "2.bias", np.array(["a", "b"]), np.array(["a", "b"])),
    ("numpy-object-array", "2.bias", np.array([None, 1.0], dtype=object), np.array([None, 1.0], dtype=object)),
    ("string", "2.bias", "ab", "ab"),
    ("list", "2.weight", [[1.0] * 4] * 2, [[1.0] * 4] * 2),
    ("none", "2.bias", None, None),
    ("dict", "2.bias", {"a": 1}, {"a": 1}),
    ("wrong-shape", "2.weight", torsh.ones(3, 4), torch.ones(3, 4)),
    ("wrong-shape-buffer", "1.running_var", torsh.ones(5), torch.ones(5)),
    ("wrong-shape-numpy", "2.weight", np.ones((4, 2)), torch.ones(4, 2)),
    ("scalar-for-matrix", "2.weight", torsh.tensor(1.0), torch.tensor(1.0)),
]


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("assign", [False, True])
@pytest.mark.parametrize("case,key,ours_value,ref_value", BAD_VALUES, ids=[c[0] for c in BAD_VALUES])
def test_failed_load_changes_nothing_and_matches_pytorchs_error(case, key, ours_value, ref_value, strict, assign):
    ours, ref = _model(torsh), _model(torch)
    bad_ours, bad_ref = _good_state(ours), _good_state(ref)
    bad_ours[key], bad_ref[key] = ours_value, ref_value
    snapshot = _snapshot(ours)
    with pytest.raises(RuntimeError) as ours_err:
        ours.load_state_dict(bad_ours, strict=strict, assign=assign)
    with pytest.raises(RuntimeError) as ref_err:
        ref.load_state_dict(bad_ref, strict=strict, assign=assign)
    assert _normalised(str(ours_err.value)) == str(ref_err.value)
    _assert_unchanged(ours, snapshot)


def test_error_lists_every_problem_like_pytorch():
    ours, ref = _model(torsh), _model(torch)
    bad_ours, bad_ref = _good_state(ours), _good_state(ref)
    for bad, lib in ((bad_ours, torsh), (bad_ref, torch)):
        bad["0.weight"] = lib.ones(2, 2)
        bad["2.bias"] = "x"
        del bad["1.running_mean"]
        bad["3.weight"] = lib.ones(1)
        bad["extra"] = 1
    snapshot = _snapshot(ours)
    with pytest.raises(RuntimeError) as ours_err:
        ours.load_state_dict(bad_ours)
    with pytest.raises(RuntimeError) as ref_err:
        ref.load_state_dict(bad_ref)
    assert _normalised(str(ours_err.value)) == str(ref_err.value)
    assert str(ref_err.value).startswith("Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in "
                                         "state_dict: \"1.running_mean\". \n\tUnexpected key(s) in state_dict: ")
    _assert_unchanged(ours, snapshot)


def test_linear_size_mismatch_message():
    ours, ref = torsh.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    snapshot = _snapshot(ours)
    with pytest.raises(RuntimeError) as ours_err:
        ours.load_state_dict({"weight": torsh.zeros(3, 3), "bias": torsh.zeros(2)})
    with pytest.raises(RuntimeError) as ref_err:
        ref.load_state_dict({"weight": torch.zeros(3, 3), "bias": torch.zeros(2)})
    expected = ("Error(s) in loading state_dict for Linear:\n\tsize mismatch for weight: copying a param with shape "
                "torch.Size([3, 3]) from checkpoint, the shape in current model is torch.Size([2, 3]).")
    assert str(ref_err.value) == expected == _normalised(str(ours_err.value))
    _assert_unchanged(ours, snapshot)


def test_non_strict_reports_keys_like_pytorch_and_loads_the_rest():
    ours, ref = _model(torsh), _model(torch)
    sd_ref = _good_state(ref)
    sd_ours = {k: torsh.tensor(v.numpy()) for k, v in sd_ref.items()}
    for sd, lib in ((sd_ours, torsh), (sd_ref, torch)):
        del sd["2.bias"]
        sd["2.extra"] = lib.ones(1)
        sd["head.weight"] = lib.ones(1)
        sd["0.weight.x"] = lib.ones(1)  # a child's parameter is no module
    res_ours = ours.load_state_dict(sd_ours, strict=False)
    res_ref = ref.load_state_dict(sd_ref, strict=False)
    assert res_ours.missing_keys == res_ref.missing_keys == ["2.bias"]
    assert res_ours.unexpected_keys == res_ref.unexpected_keys == ["head.weight", "0.weight.x", "2.extra"]
    assert repr(res_ours) == repr(res_ref)
    for key, value in ref.state_dict().items():
        if key != "2.bias":  # missing: each model keeps its own
            np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy(), err_msg=key)


def test_successful_load_copies_in_place_like_pytorch():
    ours, ref = _model(torsh), _model(torch)
    identity = dict(ours.named_parameters())
    versions_ours = {k: p._version for k, p in ours.named_parameters()}
    versions_ref = {k: p._version for k, p in ref.named_parameters()}
    sd_ref = _good_state(ref)
    sd_ref["1.num_batches_tracked"] = torch.tensor([3])  # a 1-element vector for a 0-d buffer (old checkpoints)
    sd_ref["0.bias"] = sd_ref["0.bias"].double()  # converted to the parameter's dtype
    ours.load_state_dict({k: torsh.tensor(v.numpy()) for k, v in sd_ref.items()})
    ref.load_state_dict(sd_ref)
    for key, value in ref.state_dict().items():
        got = ours.state_dict()[key]
        assert str(got.dtype).split(".")[-1] == str(value.dtype).split(".")[-1], key
        np.testing.assert_array_equal(got.numpy(), value.numpy(), err_msg=key)
    for key, param in ours.named_parameters():
        assert param is identity[key] and isinstance(param, torsh.nn.Parameter) and param.requires_grad
        # one copy_ per parameter, in both libraries
        assert param._version - versions_ours[key] == 1 == dict(ref.named_parameters())[key]._version \
            - versions_ref[key]


def test_numpy_and_torch_values_still_load():
    """torsh also takes numeric NumPy arrays and PyTorch tensors (PyTorch takes neither from the other)."""
    ref = _model(torch)
    ours = _model(torsh)
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    ours2 = _model(torsh)
    ours2.load_state_dict(ref.state_dict())
    for key, value in ref.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy())
        np.testing.assert_array_equal(ours2.state_dict()[key].numpy(), value.numpy())


def test_complex_into_real_parameter_warns_like_pytorch():
    for lib in (torsh, torch):
        m = lib.nn.Linear(2, 1)
        with pytest.warns(UserWarning, match="Casting complex values to real discards the imaginary part"):
            m.load_state_dict({"weight": lib.tensor([[1 + 2j, 3 - 1j]]), "bias": lib.zeros(1)})
        assert m.weight.tolist() == [[1.0, 3.0]] and str(m.weight.dtype).endswith("float32")


def test_assign_replaces_parameters_like_pytorch():
    ours, ref = torsh.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    old_weight = ours.weight
    ours.load_state_dict({"weight": torsh.ones(2, 3, dtype=torsh.float64), "bias": torsh.zeros(2)}, assign=True)
    ref.load_state_dict({"weight": torch.ones(2, 3, dtype=torch.float64), "bias": torch.zeros(2)}, assign=True)
    assert ours.weight is not old_weight and isinstance(ours.weight, torsh.nn.Parameter)
    assert ours.weight.dtype is torsh.float64 and ref.weight.dtype is torch.float64
    assert ours.weight.requires_grad == ref.weight.requires_grad is True


def test_non_dict_state_dict_is_refused_like_pytorch():
    for lib in (torsh, torch):
        with pytest.raises(TypeError, match=r"Expected state_dict to be dict-like, got <class 'list'>."):
            lib.nn.Linear(2, 2).load_state_dict([1, 2])


# ----------------------------------------------------------------------------- optimizers

def _trained_optimizer(lib):
    lib.manual_seed(0)
    w, b = lib.nn.Parameter(lib.ones(2, 2)), lib.nn.Parameter(lib.ones(2))
    opt = lib.optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.1}], lr=0.01)
    (w.sum() * 2 + b.sum()).backward()
    opt.step()
    return opt, w, b


def _optimizer_snapshot(opt):
    groups = [({k: copy.deepcopy(v) for k, v in g.items() if k != "params"}, [id(p) for p in g["params"]])
              for g in opt.param_groups]
    state = {id(p): {k: (v, v.detach().clone() if hasattr(v, "detach") else v) for k, v in s.items()}
             for p, s in opt.state.items()}
    return id(opt.state), id(opt.param_groups), groups, state


def _assert_optimizer_unchanged(opt, snapshot):
    state_id, groups_id, groups, state = snapshot
    assert id(opt.state) == state_id and id(opt.param_groups) == groups_id
    assert [({k: v for k, v in g.items() if k != "params"}, [id(p) for p in g["params"]])
            for g in opt.param_groups] == groups
    now = {id(p): s for p, s in opt.state.items()}
    assert now.keys() == state.keys()
    for pid, entries in state.items():
        assert now[pid].keys() == entries.keys()
        for k, (obj, value) in entries.items():
            assert now[pid][k] is obj
            assert torsh.equal(obj, value) if isinstance(obj, torsh.Tensor) else obj == value


def _mutated(sd, change):
    sd = copy.deepcopy(sd)
    change(sd)
    return sd


OPTIMIZER_BAD = [
    ("one-group-missing", lambda sd: sd["param_groups"].pop(), ValueError),
    ("extra-group", lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0], params=[9])), ValueError),
    ("group-size", lambda sd: sd["param_groups"][0]["params"].append(7), ValueError),
    ("group-without-params", lambda sd: sd["param_groups"][1].pop("params"), KeyError),
    ("group-not-a-dict", lambda sd: sd["param_groups"].__setitem__(1, 5), TypeError),
    ("param-groups-not-a-list", lambda sd: sd.__setitem__("param_groups", 5), TypeError),
    ("state-not-a-dict", lambda sd: sd.__setitem__("state", [1, 2]), AttributeError),
    ("param-state-a-string", lambda sd: sd["state"].__setitem__(0, "x"), TypeError),
]


@pytest.mark.parametrize("case,change,error", OPTIMIZER_BAD, ids=[c[0] for c in OPTIMIZER_BAD])
def test_failed_optimizer_load_changes_nothing(case, change, error):
    ours, _, _ = _trained_optimizer(torsh)
    ref, _, _ = _trained_optimizer(torch)
    bad_ours, bad_ref = _mutated(ours.state_dict(), change), _mutated(ref.state_dict(), change)
    snapshot = _optimizer_snapshot(ours)
    with pytest.raises(error) as ours_err:
        ours.load_state_dict(bad_ours)
    with pytest.raises(error) as ref_err:
        ref.load_state_dict(bad_ref)
    if error is ValueError:
        assert str(ours_err.value) == str(ref_err.value)
    _assert_optimizer_unchanged(ours, snapshot)


def test_wrong_number_of_param_groups_message():
    ours, _, _ = _trained_optimizer(torsh)
    ref, _, _ = _trained_optimizer(torch)
    for opt in (ours, ref):
        sd = opt.state_dict()
        sd["param_groups"] = sd["param_groups"][:1]
        with pytest.raises(ValueError, match="^loaded state dict has a different number of parameter groups$"):
            opt.load_state_dict(sd)


def test_state_tensor_of_wrong_shape_is_refused_before_loading():
    """PyTorch loads it and fails at the next step; torsh refuses it and keeps its state."""
    ours, w, _ = _trained_optimizer(torsh)
    sd = ours.state_dict()
    sd["state"][0] = dict(sd["state"][0], exp_avg=torsh.zeros(5))
    snapshot = _optimizer_snapshot(ours)
    with pytest.raises(ValueError, match="shape"):
        ours.load_state_dict(sd)
    _assert_optimizer_unchanged(ours, snapshot)


def test_good_optimizer_state_round_trips_through_torch_save(tmp_path):
    ref, _, _ = _trained_optimizer(torch)
    torch.save(ref.state_dict(), tmp_path / "opt.pt")
    ours, w, b = _trained_optimizer(torsh)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours.load_state_dict(torsh.load(tmp_path / "opt.pt"))
    np.testing.assert_allclose(ours.state[w]["exp_avg"].numpy(), ref.state[ref.param_groups[0]["params"][0]]
                               ["exp_avg"].numpy())
    assert ours.param_groups[1]["lr"] == 0.1 and ours.param_groups[0]["params"][0] is w
