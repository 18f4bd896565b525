"""Small models train for a few SGD steps with losses matching PyTorch's step by step."""
import numpy as np
import pytest

import torsh
from helpers import torch_ref as torch
from test_nn_common import numpy_state


def lenet(lib):
    nn, F = lib.nn, lib.nn.functional

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.bn1 = nn.BatchNorm2d(6)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
            x = F.avg_pool2d(F.relu(self.conv2(x)), 2)
            x = torch_flatten(x)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    def torch_flatten(x):
        return x.flatten(1)
    return LeNet()


def lstm_lm(lib):
    nn = lib.nn

    class LanguageModel(nn.Module):
        def __init__(self, vocab=20, emb=8, hidden=12):
            super().__init__()
            self.embed = nn.Embedding(vocab, emb)
            self.lstm = nn.LSTM(emb, hidden, num_layers=2, batch_first=True)
            self.head = nn.Linear(hidden, vocab)
            self.head.weight = nn.Parameter(self.head.weight)  # owned here, not tied

        def forward(self, tokens):
            out, _ = self.lstm(self.embed(tokens))
            return self.head(out)
    return LanguageModel()


def transformer_encoder(lib):
    nn = lib.nn

    class Classifier(nn.Module):
        def __init__(self, vocab=20, d=16):
            super().__init__()
            self.embed = nn.Embedding(vocab, d)
            layer = nn.TransformerEncoderLayer(d, 4, 32, dropout=0.0, batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d)
            self.out = nn.Linear(d, 3)

        def forward(self, tokens):
            h = self.encoder(self.embed(tokens))
            return self.out(self.norm(h).mean(1))
    return Classifier()


def _data(kind, step):
    rng = np.random.default_rng(100 + step)
    if kind == "lenet":
        return rng.normal(size=(8, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 8)
    if kind == "lstm":
        tokens = rng.integers(0, 20, (4, 9))
        return tokens[:, :-1], tokens[:, 1:]
    return rng.integers(0, 20, (4, 7)), rng.integers(0, 3, 4)


def _train(lib, model, kind, steps, lr):
    F = lib.nn.functional
    losses = []
    for step in range(steps):
        x, y = _data(kind, step)
        x = lib.tensor(x)
        y = lib.tensor(y)
        out = model(x)
        if kind == "lstm":
            loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        else:
            loss = F.cross_entropy(out, y)
        model.zero_grad()
        loss.backward()
        with lib.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("kind,make,lr", [("lenet", lenet, 0.05), ("lstm", lstm_lm, 0.5),
                                         ("transformer", transformer_encoder, 0.1)])
def test_training_losses_match_torch(kind, make, lr):
    torch.manual_seed(0)
    ref = make(torch)
    ours = make(torsh)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(numpy_state(ref))
    steps = 5
    lo = _train(torsh, ours, kind, steps, lr)
    lr_ = _train(torch, ref, kind, steps, lr)
    np.testing.assert_allclose(lo, lr_, rtol=2e-4, atol=1e-5)
    assert lo[-1] < lo[0]  # it learns
    for (name, a), b in zip(ours.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_allclose(a.numpy().astype(np.float64), b.numpy().astype(np.float64), rtol=2e-3, atol=2e-4,
                                   err_msg=name)


def resnet_like(lib):
    nn = lib.nn

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) \
                if stride != 1 or cin != cout else None

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(3, 2, 1))
            self.layer1 = nn.Sequential(BasicBlock(8, 8, 1), BasicBlock(8, 16, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(16, 5)

        def forward(self, x):
            x = self.layer1(self.stem(x))
            return self.fc(self.avgpool(x).flatten(1))
    return Net()


def test_resnet_like_state_dict_train_and_eval_match_torch():
    torch.manual_seed(0)
    ref = resnet_like(torch)
    ours = resnet_like(torsh)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert repr(ours) == repr(ref)
    ours.load_state_dict(ref.state_dict())  # torch tensors load directly too
    x = np.random.default_rng(0).normal(size=(4, 3, 16, 16)).astype(np.float32)
    y = np.array([0, 3, 1, 4])
    for step in range(3):
        lo = torsh.nn.functional.cross_entropy(ours(torsh.tensor(x)), torsh.tensor(y))
        lr = torch.nn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(y))
        np.testing.assert_allclose(lo.item(), lr.item(), rtol=1e-4)
        ours.zero_grad()
        ref.zero_grad()
        lo.backward()
        lr.backward()
        with torsh.no_grad():
            for p in ours.parameters():
                p -= 0.1 * p.grad
        with torch.no_grad():
            for p in ref.parameters():
                p -= 0.1 * p.grad
    ours.eval()
    ref.eval()
    np.testing.assert_allclose(ours(torsh.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy(),
                               rtol=1e-3, atol=1e-4)
    for (name, a), b in zip(ours.named_buffers(), ref.buffers()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
