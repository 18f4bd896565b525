"""torsh.utils.checkpoint against torch.utils.checkpoint: gradients, RNG replay, warnings, memory."""
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, needs_torch, torch_ref

pytestmark = needs_torch

MODES = [True, False]


def _mlp(lib, width=16, depth=4, dropout=0.0, seed=0):
    """Linear/Tanh(/Dropout) stack with the same numbers in torsh and torch."""
    g = np.random.default_rng(seed)
    layers = []
    for _ in range(depth):
        lin = lib.nn.Linear(width, width)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(g.standard_normal((width, width)) / np.sqrt(width), dtype=lib.float32))
            lin.bias.copy_(lib.tensor(g.standard_normal(width) * 0.1, dtype=lib.float32))
        layers += [lin, lib.nn.Tanh()] + ([lib.nn.Dropout(dropout)] if dropout else [])
    return lib.nn.Sequential(*layers)


def _input(lib, rows=8, width=16):
    return lib.tensor(np.random.default_rng(1).standard_normal((rows, width)), dtype=lib.float32, requires_grad=True)


def _grads(lib, model, x, run):
    out = run(lib, model, x)
    (out * out).sum().backward()
    return [x.grad] + [p.grad for p in model.parameters()]


@pytest.mark.parametrize("use_reentrant", MODES)
def test_checkpoint_gradients_match_torch(use_reentrant):
    def run(lib, model, x):
        first, rest = model[:4], model[4:]
        h = lib.utils.checkpoint.checkpoint(first, x, use_reentrant=use_reentrant)
        return rest(h)

    ours = _grads(torsh, _mlp(torsh), _input(torsh), run)
    ref = _grads(torch_ref, _mlp(torch_ref), _input(torch_ref), run)
    for a, e in zip(ours, ref):
        assert_close(a, e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("use_reentrant", MODES)
def test_checkpoint_sequential_matches_torch(use_reentrant):
    def run(lib, model, x):
        return lib.utils.checkpoint.checkpoint_sequential(model, 3, x, use_reentrant=use_reentrant)

    ours = _grads(torsh, _mlp(torsh, depth=6), _input(torsh), run)
    ref = _grads(torch_ref, _mlp(torch_ref, depth=6), _input(torch_ref), run)
    for a, e in zip(ours, ref):
        assert_close(a, e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("use_reentrant", MODES)
def test_dropout_mask_is_replayed_in_recomputation(use_reentrant):
    """With the same seed, checkpointed gradients equal the plain run's: dropout drew the same mask twice."""
    def plain(lib, model, x):
        return model(x)

    def checkpointed(lib, model, x):
        return lib.utils.checkpoint.checkpoint_sequential(model, 2, x, use_reentrant=use_reentrant)

    results = []
    for run in (plain, checkpointed):
        torsh.manual_seed(123)
        results.append(_grads(torsh, _mlp(torsh, dropout=0.5), _input(torsh), run))
    for a, e in zip(*results):
        assert_close(a, e.numpy(), rtol=1e-6, atol=1e-6)
    # and without preserve_rng_state the recomputed mask differs (the property is not vacuous)
    torsh.manual_seed(123)
    model, x = _mlp(torsh, dropout=0.5), _input(torsh)
    out = torsh.utils.checkpoint.checkpoint(model, x, use_reentrant=use_reentrant, preserve_rng_state=False)
    (out * out).sum().backward()
    assert not np.allclose(x.grad.numpy(), results[0][0].numpy())


def test_non_reentrant_keeps_the_graph_and_supports_autograd_grad_and_kwargs():
    def fn(lib, a, scale):
        return (a * scale).tanh()

    for lib in (torsh, torch_ref):
        x = _input(lib)
        w = lib.tensor(np.linspace(0.5, 1.5, 16), dtype=lib.float32, requires_grad=True)  # captured, not an argument
        out = lib.utils.checkpoint.checkpoint(lambda a, scale: fn(lib, a, scale) * w, x, use_reentrant=False, scale=2.0)
        grads = lib.autograd.grad(out.sum(), (x, w))
        if lib is torsh:
            ours, name = grads, type(out.grad_fn).__name__
        else:
            ref, ref_name = grads, type(out.grad_fn).__name__
    assert name == ref_name == "MulBackward0"
    for a, e in zip(ours, ref):
        assert_close(a, e, rtol=1e-5, atol=1e-6)


def _warnings_of(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("case", ["no_use_reentrant", "sequential_no_use_reentrant", "no_input_requires_grad"])
def test_warnings_match_torch(case):
    def call(lib):
        x = lib.ones(2, 2, requires_grad=case != "no_input_requires_grad")
        seq = lib.nn.Sequential(lib.nn.Tanh(), lib.nn.Tanh())
        if case == "no_use_reentrant":
            lib.utils.checkpoint.checkpoint(lambda a: a * 2, x)
        elif case == "sequential_no_use_reentrant":
            lib.utils.checkpoint.checkpoint_sequential(seq, 2, x)
        else:
            lib.utils.checkpoint.checkpoint(lambda a: a * 2, x, use_reentrant=True)

    ours, ref = _warnings_of(lambda: call(torsh)), _warnings_of(lambda: call(torch_ref))
    assert ours == ref and len(ref) == 1


def test_unexpected_keyword_error_matches_torch():
    def call(lib):
        lib.utils.checkpoint.checkpoint(lambda a: a, lib.ones(1, requires_grad=True), use_reentrant=True, foo=1)

    for lib in (torsh, torch_ref):
        with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
            call(lib)


@pytest.mark.parametrize("use_reentrant", MODES)
def test_checkpointing_lowers_saved_activations_of_a_deep_mlp(use_reentrant):
    from torsh.backend import memory
    model = _mlp(torsh, width=256, depth=16)
    x = torsh.randn(128, 256, requires_grad=True)

    def after_forward(run):
        model.zero_grad(set_to_none=True)
        x.grad = None
        before = torsh.memory_allocated()
        out = run()
        held = memory.categorized_bytes(model)
        grown = torsh.memory_allocated() - before
        (out * out).sum().backward()
        return held["saved_activations"], grown

    plain_saved, plain_grown = after_forward(lambda: model(x))
    ckpt_saved, ckpt_grown = after_forward(
        lambda: torsh.utils.checkpoint.checkpoint_sequential(model, 8, x, use_reentrant=use_reentrant))
    activation = 128 * 256 * 4
    # plain: the input and every Tanh output (the next Linear saves that same storage): 17 activations;
    # checkpointed: the inputs of segments 2..7 and the last segment's graph (its input, 2 Tanh outputs)
    assert plain_saved >= 17 * activation
    assert ckpt_saved <= 10 * activation
    assert plain_grown - ckpt_grown >= 6 * activation  # the live bytes after forward drop too
