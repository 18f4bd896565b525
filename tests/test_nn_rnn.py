"""RNN/LSTM/GRU and their cells, PackedSequence utilities, against torch.nn."""
import numpy as np
import pytest

import torsh
import torsh.nn as nn
from torsh.nn.utils import rnn as rnn_utils
from helpers import assert_close, check_same_error, torch_ref as torch
from test_nn_common import build_pair, compare_module, run_and_compare

R = np.random.default_rng(0)

RNNS = [
    ("rnn", lambda nn: nn.RNN(4, 5)),
    ("rnn_relu_2l", lambda nn: nn.RNN(4, 5, 2, nonlinearity="relu")),
    ("rnn_bi_nobias", lambda nn: nn.RNN(4, 5, bias=False, bidirectional=True)),
    ("lstm", lambda nn: nn.LSTM(4, 5)),
    ("lstm_2l_bi_bf", lambda nn: nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True)),
    ("lstm_proj", lambda nn: nn.LSTM(4, 6, num_layers=2, proj_size=3)),
    ("lstm_proj_bi", lambda nn: nn.LSTM(4, 6, proj_size=2, bidirectional=True)),
    ("gru", lambda nn: nn.GRU(4, 5)),
    ("gru_3l_bi", lambda nn: nn.GRU(4, 3, num_layers=3, bidirectional=True)),
]


@pytest.mark.parametrize("name,make", RNNS, ids=[r[0] for r in RNNS])
def test_rnn_matches_torch(name, make):
    compare_module(lambda lib: make(lib.nn), [(6, 3, 4)], modes=(True,))


@pytest.mark.parametrize("name,make", RNNS, ids=[r[0] for r in RNNS])
def test_rnn_with_initial_state_and_unbatched(name, make):
    ours, ref = build_pair(lambda lib: make(lib.nn))
    layers = ref.num_layers * (2 if ref.bidirectional else 1)
    real = ref.proj_size if ref.proj_size else ref.hidden_size
    x = R.normal(size=(3, 6, 4) if ref.batch_first else (6, 3, 4))
    h0 = R.normal(size=(layers, 3, real))
    c0 = R.normal(size=(layers, 3, ref.hidden_size))
    is_lstm = isinstance(ref, torch.nn.LSTM)

    def call(m, x, h, c):
        return m(x, (h, c)) if is_lstm else m(x, h)
    arrays = [x, h0, c0] if is_lstm else [x, h0]
    run_and_compare(ours, ref, arrays, call=(call if is_lstm else lambda m, x, h: m(x, h)))
    xu = R.normal(size=(5, 4))
    run_and_compare(ours, ref, [xu])


@pytest.mark.parametrize("name,make", RNNS, ids=[r[0] for r in RNNS])
def test_rnn_keys_and_repr(name, make):
    assert list(make(nn).state_dict()) == list(make(torch.nn).state_dict())
    assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.parametrize("name,make", [r for r in RNNS if "bf" not in r[0]], ids=[r[0] for r in RNNS if "bf" not in r[0]])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_rnn_packed_sequences(name, make, enforce_sorted):
    lengths = [6, 4, 4, 1] if enforce_sorted else [4, 6, 1, 4]
    x = R.normal(size=(6, 4, 4))
    ours, ref = build_pair(lambda lib: make(lib.nn))
    results = []
    for lib, m in ((torsh, ours), (torch, ref)):
        xt = lib.tensor(x, requires_grad=True)
        packed = lib.nn.utils.rnn.pack_padded_sequence(xt, lib.tensor(lengths), enforce_sorted=enforce_sorted)
        out, hidden = m(packed)
        padded, lens = lib.nn.utils.rnn.pad_packed_sequence(out, total_length=7)
        h = hidden[0] if isinstance(hidden, tuple) else hidden
        loss = (padded * lib.tensor(np.linspace(-1, 1, padded.numel()).reshape(tuple(padded.shape)))).sum() + \
            (h ** 2).sum()
        loss.backward()
        results.append((padded, lens, h, xt.grad, dict(m.named_parameters())))
    (po, lo, ho, go, pso), (pr, lr, hr, gr, psr) = results
    assert_close(po, pr.detach())
    assert_close(lo, lr)
    assert_close(ho, hr.detach())
    assert_close(go, gr)
    for k in pso:
        assert_close(pso[k].grad, psr[k].grad)


@pytest.mark.parametrize("cell", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(cell):
    make = lambda lib: getattr(lib.nn, cell)(4, 5)  # noqa: E731
    ours, ref = build_pair(make)
    x, h = R.normal(size=(3, 4)), R.normal(size=(3, 5))
    if cell == "LSTMCell":
        run_and_compare(ours, ref, [x, h, R.normal(size=(3, 5))], call=lambda m, x, h, c: m(x, (h, c)))
    else:
        run_and_compare(ours, ref, [x, h])
    run_and_compare(ours, ref, [x])
    run_and_compare(ours, ref, [x[0]])
    assert repr(make(torsh)) == repr(make(torch))
    assert list(make(torsh).state_dict()) == list(make(torch).state_dict())
    compare_module(lambda lib: lib.nn.RNNCell(4, 5, bias=False, nonlinearity="relu"), [(3, 4)], modes=(True,))


def test_pad_sequence_and_pack_sequence():
    seqs = [R.normal(size=(n, 2)) for n in (3, 5, 1)]
    for bf in (False, True):
        for side in ("right", "left"):
            ours = rnn_utils.pad_sequence([torsh.tensor(s) for s in seqs], batch_first=bf, padding_value=-1.0,
                                          padding_side=side)
            ref = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=bf, padding_value=-1.0,
                                                  padding_side=side)
            assert_close(ours, ref)
    po = rnn_utils.pack_sequence([torsh.tensor(s) for s in seqs], enforce_sorted=False)
    pr = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    for a, b in zip(po, pr):
        assert_close(a, b)
    for a, b in zip(rnn_utils.unpack_sequence(po), torch.nn.utils.rnn.unpack_sequence(pr)):
        assert_close(a, b)
    check_same_error(lambda lib: lib.nn.utils.rnn.pack_padded_sequence(lib.zeros(3, 2, 1), [1, 3]))


def test_rnn_dropout_between_layers_and_errors():
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = torsh.randn(5, 2, 3)
    a, b = m(x)[0], m(x)[0]
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    m.eval()
    assert np.allclose(m(x)[0].detach().numpy(), m(x)[0].detach().numpy())
    check_same_error(lambda lib: lib.nn.LSTM(3, 4)(lib.zeros(5, 2, 2)))
    check_same_error(lambda lib: lib.nn.GRU(3, 4)(lib.zeros(5, 2, 3), lib.zeros(2, 2, 4)))
    check_same_error(lambda lib: lib.nn.GRU(3, 4, proj_size=2))
    check_same_error(lambda lib: lib.nn.LSTM(3, 4, proj_size=4))
