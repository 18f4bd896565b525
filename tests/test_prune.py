"""torsh.nn.utils.prune against PyTorch 2.13: masks, state dicts, the re-masking hook, chained pruning, errors."""
import numpy as np
import pytest

import torsh
from helpers import check_same_error, needs_torch, torch_ref as torch

pytestmark = needs_torch
if torch is not None:
    import torch.nn.utils.prune  # noqa: F401 - PyTorch does not import it with torch.nn.utils


def twin(make, seed=0):
    """``make(lib)`` in torch and torsh with torch's initial weights copied through NumPy."""
    torch.manual_seed(seed)
    ref = make(torch)
    ours = make(torsh)
    ours.load_state_dict({k: torsh.tensor(v.detach().numpy().copy()) for k, v in ref.state_dict().items()})
    return ours, ref


def linear(lib):
    return lib.nn.Linear(6, 5)


def conv(lib):
    return lib.nn.Conv2d(3, 4, 3)


def assert_pruned_like_torch(ours, ref, name="weight"):
    ours_sd, ref_sd = ours.state_dict(), ref.state_dict()
    assert list(ours_sd) == list(ref_sd)
    for key in ref_sd:
        np.testing.assert_allclose(ours_sd[key].numpy(), ref_sd[key].detach().numpy(), rtol=1e-6, err_msg=key)
    np.testing.assert_allclose(getattr(ours, name).detach().numpy(), getattr(ref, name).detach().numpy(),
                               rtol=1e-6)


def prune_both(ours, ref, fn, *args, **kwargs):
    fn(torsh.nn.utils.prune)(ours, *args, **kwargs)
    fn(torch.nn.utils.prune)(ref, *args, **kwargs)


@pytest.mark.parametrize("make,amount", [(linear, 0.3), (linear, 7), (conv, 0.5), (linear, 0), (linear, 0.0),
                                         (conv, 108)])
def test_l1_unstructured_mask_matches_torch(make, amount):
    ours, ref = twin(make)
    prune_both(ours, ref, lambda p: p.l1_unstructured, "weight", amount=amount)
    assert list(ours.state_dict()) == ["bias", "weight_orig", "weight_mask"]
    assert_pruned_like_torch(ours, ref)


LN_CASES = [(linear, 0, 2), (linear, 1, 0.5), (linear, -1, 1),
            (conv, 0, 0.5), (conv, 1, 1), (conv, 3, 2), (conv, -2, 0.34)]
NORMS = [1, 2, 3, float("inf"), float("-inf")]


# 'fro' only on 2-D weights: PyTorch's norm refuses 'fro' over 3 dims (torsh.norm computes it)
@pytest.mark.parametrize("make,dim,amount,n", [case + (n,) for case in LN_CASES for n in NORMS]
                         + [case + ("fro",) for case in LN_CASES if case[0] is linear])
def test_ln_structured_mask_matches_torch(make, dim, amount, n):
    ours, ref = twin(make)
    prune_both(ours, ref, lambda p: p.ln_structured, "weight", amount=amount, n=n, dim=dim)
    assert_pruned_like_torch(ours, ref)


def test_custom_from_mask_and_bias_pruning_match_torch():
    ours, ref = twin(linear)
    mask = np.random.default_rng(0).random((5, 6)) > 0.4
    ours_mod = torsh.nn.utils.prune.custom_from_mask(ours, "weight", torsh.tensor(mask))
    torch.nn.utils.prune.custom_from_mask(ref, "weight", torch.tensor(mask))
    assert ours_mod is ours
    prune_both(ours, ref, lambda p: p.l1_unstructured, "bias", amount=2)
    assert_pruned_like_torch(ours, ref)
    assert_pruned_like_torch(ours, ref, "bias")


def test_importance_scores_drive_the_mask_like_torch():
    ours, ref = twin(conv)
    scores = np.random.default_rng(1).random((4, 3, 3, 3)).astype(np.float32)
    torsh.nn.utils.prune.l1_unstructured(ours, "weight", 0.4, importance_scores=torsh.tensor(scores))
    torch.nn.utils.prune.l1_unstructured(ref, "weight", 0.4, importance_scores=torch.tensor(scores))
    assert_pruned_like_torch(ours, ref)
    torsh.nn.utils.prune.ln_structured(ours, "weight", 1, n=1, dim=0, importance_scores=torsh.tensor(scores))
    torch.nn.utils.prune.ln_structured(ref, "weight", 1, n=1, dim=0, importance_scores=torch.tensor(scores))
    assert_pruned_like_torch(ours, ref)


def test_iterative_pruning_composes_masks_like_torch():
    ours, ref = twin(conv)
    steps = [
        (lambda p: p.l1_unstructured, {"amount": 0.2}),
        (lambda p: p.ln_structured, {"amount": 1, "n": 2, "dim": 0}),
        (lambda p: p.l1_unstructured, {"amount": 10}),
        (lambda p: p.ln_structured, {"amount": 0.5, "n": 1, "dim": 1}),
        (lambda p: p.identity, {}),
    ]
    for fn, kwargs in steps:
        prune_both(ours, ref, fn, "weight", **kwargs)
        assert_pruned_like_torch(ours, ref)
    hooks = [h for h in ours._forward_pre_hooks.values()]
    assert len(hooks) == 1 and isinstance(hooks[0], torsh.nn.utils.prune.PruningContainer)
    assert [type(m).__name__ for m in hooks[0]] == [type(m).__name__ for m in list(ref._forward_pre_hooks.values())[0]]
    assert len(hooks[0]) == 5 and hooks[0][-1]._tensor_name == "weight"


def test_global_unstructured_matches_torch():
    def net(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(2, 3, 3), lib.nn.Flatten(), lib.nn.Linear(12, 4))
    ours, ref = twin(net)
    # layer 0 is already pruned: its pruned entries stay pruned and count towards the total
    torsh.nn.utils.prune.l1_unstructured(ours[0], "weight", amount=5)
    torch.nn.utils.prune.l1_unstructured(ref[0], "weight", amount=5)
    for model, lib in ((ours, torsh), (ref, torch)):
        params = ((model[0], "weight"), (model[2], "weight"), (model[2], "bias"))
        scores = {(model[2], "bias"): lib.tensor(np.arange(4, dtype=np.float32))}
        lib.nn.utils.prune.global_unstructured(params, pruning_method=lib.nn.utils.prune.L1Unstructured,
                                               amount=0.4, importance_scores=scores)
    assert_pruned_like_torch(ours[0], ref[0])
    assert_pruned_like_torch(ours[2], ref[2])
    assert_pruned_like_torch(ours[2], ref[2], "bias")
    np.testing.assert_array_equal(ours[2].bias_mask.numpy(), ref[2].bias_mask.numpy())
    assert int((ours[0].weight_mask == 0).sum()) + int((ours[2].weight_mask == 0).sum()) \
        + int((ours[2].bias_mask == 0).sum()) == 5 + round(0.4 * (54 + 48 + 4 - 5))  # 40% of the unpruned


def test_forward_hook_recomputes_weight_and_gradients_reach_orig_like_torch():
    ours, ref = twin(linear)
    prune_both(ours, ref, lambda p: p.l1_unstructured, "weight", amount=0.5)
    x = np.random.default_rng(2).normal(size=(3, 6)).astype(np.float32)
    for model, lib in ((ours, torsh), (ref, torch)):
        with lib.no_grad():
            model.weight_orig.mul_(2.0)  # the hook must pick this up at the next forward
        model(lib.tensor(x)).pow(2).sum().backward()
    np.testing.assert_allclose(ours.weight.detach().numpy(), ref.weight.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.weight_orig.grad.numpy(), ref.weight_orig.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert (ours.weight_orig.grad.numpy()[ours.weight_mask.numpy() == 0] == 0).all()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in ref.named_buffers()]


def test_remove_makes_pruning_permanent_like_torch():
    ours, ref = twin(conv)
    prune_both(ours, ref, lambda p: p.ln_structured, "weight", amount=2, n=1, dim=0)
    prune_both(ours, ref, lambda p: p.random_unstructured, "bias", amount=1)
    assert torsh.nn.utils.prune.is_pruned(ours)
    prune_both(ours, ref, lambda p: p.remove, "weight")
    assert list(ours.state_dict()) == list(ref.state_dict())
    np.testing.assert_allclose(ours.weight.detach().numpy(), ref.weight.detach().numpy(), rtol=1e-6)
    assert isinstance(ours.weight, torsh.nn.Parameter)
    torsh.nn.utils.prune.remove(ours, "bias")
    assert not torsh.nn.utils.prune.is_pruned(ours)
    assert list(ours.state_dict()) == ["weight", "bias"]
    assert int((ours.bias == 0).sum()) == 1


def test_is_pruned_looks_into_submodules():
    for lib in (torsh, torch):
        model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Sequential(lib.nn.Linear(2, 2)))
        assert not lib.nn.utils.prune.is_pruned(model)
        lib.nn.utils.prune.identity(model[1][0], "bias")
        assert lib.nn.utils.prune.is_pruned(model)
        assert (model[1][0].bias_mask == 1).all()


@pytest.mark.parametrize("amount", [0.3, 4, 0.0])
def test_random_unstructured_prunes_the_right_count_and_composes(amount):
    model = conv(torsh)
    torsh.nn.utils.prune.random_unstructured(model, "weight", amount)
    expected = amount if isinstance(amount, int) else round(amount * 108)
    assert int((model.weight_mask == 0).sum()) == expected
    first = model.weight_mask.numpy().copy()
    torsh.nn.utils.prune.random_unstructured(model, "weight", 10)  # 10 more, among the unpruned entries
    assert int((model.weight_mask == 0).sum()) == expected + 10
    assert (model.weight_mask.numpy()[first == 0] == 0).all()
    np.testing.assert_array_equal(model.weight.detach().numpy(),
                                  (model.weight_orig * model.weight_mask).detach().numpy())


@pytest.mark.parametrize("dim,amount", [(0, 2), (1, 0.34), (-1, 1)])
def test_random_structured_prunes_whole_channels(dim, amount):
    model = conv(torsh)
    torsh.nn.utils.prune.random_structured(model, "weight", amount=amount, dim=dim)
    mask = model.weight_mask.numpy()
    n_channels = mask.shape[dim]
    expected = amount if isinstance(amount, int) else round(amount * n_channels)
    per_channel = np.moveaxis(mask, dim, 0).reshape(n_channels, -1)
    assert set(per_channel.min(axis=1)) <= {0.0, 1.0}
    assert (per_channel.min(axis=1) == per_channel.max(axis=1)).all()  # each channel all kept or all pruned
    assert int((per_channel.max(axis=1) == 0).sum()) == expected
    # a second structured pass prunes one more channel among the kept ones
    torsh.nn.utils.prune.random_structured(model, "weight", amount=1, dim=dim)
    per_channel = np.moveaxis(model.weight_mask.numpy(), dim, 0).reshape(n_channels, -1)
    assert int((per_channel.max(axis=1) == 0).sum()) == expected + 1


def test_methods_used_directly_match_torch():
    w = np.random.default_rng(3).normal(size=(4, 5)).astype(np.float32)
    for make in (lambda p: p.L1Unstructured(amount=6), lambda p: p.LnStructured(amount=2, n=2, dim=1),
                 lambda p: p.CustomFromMask(mask=(lambda lib: lib.tensor(w > 0)))):
        ours_m, ref_m = make(torsh.nn.utils.prune), make(torch.nn.utils.prune)
        if isinstance(ours_m, torsh.nn.utils.prune.CustomFromMask):
            ours_m.mask, ref_m.mask = ours_m.mask(torsh), ref_m.mask(torch)
        ours = ours_m.prune(torsh.tensor(w))
        ref = ref_m.prune(torch.tensor(w))
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())


def pruned_linear(lib):
    return lib.nn.Linear(3, 2)


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.utils.prune.l1_unstructured(pruned_linear(lib), "weight", amount=1.5),
    lambda lib: lib.nn.utils.prune.l1_unstructured(pruned_linear(lib), "weight", amount=-1),
    lambda lib: lib.nn.utils.prune.l1_unstructured(pruned_linear(lib), "weight", amount=-0.1),
    lambda lib: lib.nn.utils.prune.l1_unstructured(pruned_linear(lib), "weight", amount="0.5"),
    lambda lib: lib.nn.utils.prune.l1_unstructured(pruned_linear(lib), "weight", amount=7),
    lambda lib: lib.nn.utils.prune.random_unstructured(pruned_linear(lib), "bias", amount=3),
    lambda lib: lib.nn.utils.prune.random_structured(pruned_linear(lib), "weight", amount=3, dim=0),
    lambda lib: lib.nn.utils.prune.global_unstructured(5, lib.nn.utils.prune.L1Unstructured, amount=1),
    lambda lib: lib.nn.utils.prune.global_unstructured([], lib.nn.utils.prune.L1Unstructured,
                                                       importance_scores=[1], amount=1),
])
def test_errors_match_torch(call):
    check_same_error(call)


def test_structured_errors_match_torch_wording():
    # the messages print the tensor's Size, whose repr names the package
    check_same_error(lambda lib: lib.nn.utils.prune.ln_structured(pruned_linear(lib), "bias", amount=1, n=2, dim=0),
                     exact=False, fallback_msg="Structured pruning can only be applied to multidimensional tensors. "
                                               "Found tensor of shape ")
    for dim in (2, 5):
        error = check_same_error(
            lambda lib: lib.nn.utils.prune.ln_structured(pruned_linear(lib), "weight", amount=1, n=2, dim=dim),
            exact=False, fallback_msg=f"Invalid index {dim} for tensor of size ")
        assert str(error).endswith("Size([2, 3])")


def test_failed_pruning_puts_the_parameter_back_like_torch():
    names = []
    for lib in (torsh, torch):
        model = pruned_linear(lib)
        with pytest.raises(ValueError):
            lib.nn.utils.prune.l1_unstructured(model, "weight", amount=100)
        assert not hasattr(model, "weight_orig") and not hasattr(model, "weight_mask")
        assert not lib.nn.utils.prune.is_pruned(model)
        names.append([n for n, _ in model.named_parameters()])
    assert names[0] == names[1]


def test_errors_naming_objects_match_torch_wording():
    check_same_error(lambda lib: lib.nn.utils.prune.remove(pruned_linear(lib), "weight"))
    check_same_error(lambda lib: lib.nn.utils.prune.global_unstructured(
        [(pruned_linear(lib), "weight")], lib.nn.utils.prune.LnStructured, amount=1, n=1, dim=0),
        exact=False, fallback_msg='Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method')

    def add_other_tensor(lib):
        prune = lib.nn.utils.prune
        model = pruned_linear(lib)
        container = prune.identity(model, "weight")._forward_pre_hooks
        method = prune.L1Unstructured(1)
        method._tensor_name = "bias"
        prune.PruningContainer(list(container.values())[0]).add_pruning_method(method)
    check_same_error(add_other_tensor, exact=False,
                     fallback_msg="Can only add pruning methods acting on the parameter named 'weight'")
    def add_non_method(lib):
        method = lib.nn.utils.prune.Identity()
        method._tensor_name = "weight"
        lib.nn.utils.prune.PruningContainer(method).add_pruning_method(3)
    check_same_error(add_non_method, exact=False, fallback_msg="is not a BasePruningMethod subclass")
    # a method never applied has no tensor name
    check_same_error(lambda lib: lib.nn.utils.prune.PruningContainer(lib.nn.utils.prune.Identity()),
                     exact=False, fallback_msg="object has no attribute '_tensor_name'")
    check_same_error(lambda lib: lib.nn.utils.prune.l1_unstructured(
        pruned_linear(lib), "weight", 1, importance_scores=lib.ones(2, 2)), exact=False,
        fallback_msg="importance_scores should have the same shape as parameter weight of")
