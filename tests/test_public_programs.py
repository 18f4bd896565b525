"""Programs from PyTorch's examples repository (tests/programs/, BSD licence) run unchanged with torsh.

Each program runs twice in a subprocess: as is (``import torch``), then with its torch import lines rewritten to
torsh (``import torsh as torch``, ``import torch.nn as nn`` -> ``import torsh.nn as nn``, ...), in a Python where
``import torch`` fails, so nothing of PyTorch can be used. Both runs must finish and print the same lines (numbers
aside). The two runs of a program go side by side; each copies the program's folder into its own directory.

The programs initialise their own weights from ``torch.manual_seed``; torsh's generator does not reproduce
PyTorch's random stream (nor its dropout masks), so the two runs start from different weights and the losses are
compared as curves: both must fall the same way (from the same start to the same low level), loosely.

Data: programs that download a dataset through torchvision (not installed here) get ``tests/programs/_standins/
torchvision``, a stand-in with the few names they use whose datasets are small synthetic ones of the same shapes;
their own text stays unchanged (the mnist copy predates the stand-in and carries its edit). Programs that read data
files (word_language_model, time_sequence_prediction) get small synthetic files written by the test.
"""
import math
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from helpers import needs_torch, torch_ref

pytestmark = needs_torch

PROGRAMS = pathlib.Path(__file__).parent / "programs"
STANDINS = PROGRAMS / "_standins"
TIMEOUT = 240  # seconds per run: a hung run fails instead of blocking the suite
# the two runs of a pair go side by side, one thread each, so neither library's thread pool spins against the other
_THREADS = {"OMP_NUM_THREADS": "1"}
# the torch import statements of a program, rewritten to torsh; everything else stays byte for byte
_IMPORTS = [(re.compile(r"^import torch$", re.M), "import torsh as torch"),
            (re.compile(r"^import torch\.", re.M), "import torsh."),
            (re.compile(r"^from torch(\.| )", re.M), r"from torsh\1")]


def torsh_source(source):
    for pattern, replacement in _IMPORTS:
        source = pattern.sub(replacement, source)
    return source


def _program_copy(name, tmp_path, lib):
    """A copy of the program's folder (the stand-ins beside it) in tmp_path/lib/name, its imports rewritten for torsh."""
    folder = tmp_path / lib / name
    shutil.copytree(PROGRAMS / name, folder)
    shutil.copytree(STANDINS, folder, dirs_exist_ok=True)
    if lib == "torsh":
        for path in folder.rglob("*.py"):
            path.write_text(torsh_source(path.read_text()))
    return folder


def _environment(lib, tmp_path, extra):
    if lib == "torch":
        return {**os.environ, **_THREADS, **extra}
    blocker = tmp_path / "no_torch"
    (blocker / "torch").mkdir(parents=True, exist_ok=True)
    (blocker / "torch" / "__init__.py").write_text("raise ImportError('the torsh run must not use torch')\n")
    return {"PYTHONPATH": str(blocker), "PATH": str(pathlib.Path(sys.executable).parent), **_THREADS, **extra}


def _start(folder, script, args, lib, tmp_path, env=None):
    """Starts ``script`` of a program copy, run from its folder (the files it writes land there)."""
    return subprocess.Popen([sys.executable, script, *args], cwd=folder, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_environment(lib, tmp_path, env or {}))


def _output(process, what):
    """The stdout of a started run, which must end normally (a hung run fails instead of blocking the suite)."""
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    assert process.returncode == 0, f"{what} failed:\n{err[-3000:]}"
    return out


def _templates(output):
    """The output's lines with every number replaced by '#' (and the spaces padding it to a width collapsed): what
    kind of output, not its values."""
    return [re.sub(r" +", " ", re.sub(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?", "#", line)) for line in output.splitlines()]


def _pair(name, args, tmp_path, script="main.py", env=None, prepare=None):
    """Starts the torch and the torsh run of a program; ``prepare(folder)`` writes a run's data files first."""
    runs = {}
    for lib in ("torch", "torsh"):
        folder = _program_copy(name, tmp_path, lib)
        if prepare is not None:
            prepare(folder)
        runs[lib] = _start(folder, script, args, lib, tmp_path, env)
    return runs


def _finish(runs, name):
    """(torsh's output, torch's output) of a started pair; both print the same lines, numbers aside."""
    ref, ours = (_output(runs[lib], f"{lib} run of {name}") for lib in ("torch", "torsh"))
    assert _templates(ours) == _templates(ref), f"torsh printed:\n{ours}\ntorch printed:\n{ref}"
    return ours, ref


def _both(name, args, tmp_path, **options):
    return _finish(_pair(name, args, tmp_path, **options), name)


def test_the_rewrite_touches_only_torch_import_lines():
    source = (PROGRAMS / "mnist" / "main.py").read_text()
    rewritten = torsh_source(source)
    changed = [(a, b) for a, b in zip(source.splitlines(), rewritten.splitlines()) if a != b]
    assert changed == [("import torch", "import torsh as torch"), ("import torch.nn as nn", "import torsh.nn as nn"),
                       ("import torch.nn.functional as F", "import torsh.nn.functional as F"),
                       ("import torch.optim as optim", "import torsh.optim as optim"),
                       ("from torch.optim.lr_scheduler import StepLR", "from torsh.optim.lr_scheduler import StepLR")]


def _mnist_numbers(output):
    losses = [float(x) for x in re.findall(r"Loss: ([\d.]+)", output)]
    test_loss, correct, total = re.search(r"Average loss: ([\d.]+), Accuracy: (\d+)/(\d+)", output).groups()
    return losses, float(test_loss), int(correct) / int(total)


def test_mnist_example_trains_alike(tmp_path):
    """pytorch/examples mnist/main.py (CNN, Adadelta, StepLR, DataLoader) on a synthetic MNIST: 8 batches."""
    args = ["--epochs", "1", "--batch-size", "32", "--test-batch-size", "128", "--log-interval", "1", "--no-accel"]
    ours, ref = _both("mnist", args, tmp_path)
    (losses, test_loss, accuracy), (ref_losses, ref_test_loss, ref_accuracy) = _mnist_numbers(ours), \
        _mnist_numbers(ref)
    assert len(losses) == len(ref_losses) == 8
    # both start at chance level (ln 10 for 10 classes) and end far below it, the test set learnt
    for curve in (losses, ref_losses):
        assert abs(curve[0] - math.log(10)) < 0.15, curve
        assert max(curve[-2:]) < 0.25 * curve[0], curve
    assert ref_accuracy >= 0.9 and accuracy >= 0.9
    assert ref_test_loss < 0.1 and test_loss < 0.1


def _polynomial(line):
    return [float(x) for x in re.findall(r"[-+]\d+\.\d+", line.split("y = ")[1])]


def test_regression_example_fits_the_polynomial(tmp_path):
    """pytorch/examples regression/main.py: a Linear layer fits a random degree-4 polynomial with plain SGD until the
    smooth-L1 loss is below 1e-3 (its own stop criterion); the coefficients are random, so each run checks its
    learned polynomial against its own target."""
    for output in _both("regression", [], tmp_path):
        loss, batches = re.search(r"Loss: ([\d.]+) after (\d+) batches", output).groups()
        assert float(loss) < 1e-3 and int(batches) > 1
        learned = _polynomial(re.search(r"Learned function:.*", output).group())
        actual = _polynomial(re.search(r"Actual function:.*", output).group())
        assert len(learned) == len(actual) == 5
        assert max(abs(a - b) for a, b in zip(learned, actual)) < 0.5, output


# -- word_language_model: an RNN / Transformer language model on a corpus of a tiny grammar -------------------------
_NOUNS, _VERBS = ("cat", "dog", "bird", "fox"), ("sat", "ran", "slept")
_WORDS = len(_NOUNS) + len(_VERBS) + 3  # with 'the', 'on' and data.py's '<eos>'
# each sentence is 'the <noun> <verb> on the <noun>': the pairs of words that may follow each other
_GRAMMAR = ({("the", n) for n in _NOUNS} | {(n, v) for n in _NOUNS for v in _VERBS} | {(v, "on") for v in _VERBS}
            | {("on", "the"), ("<eos>", "the")} | {(n, "<eos>") for n in _NOUNS})


def _write_corpus(folder):
    """data/wikitext-2/{train,valid,test}.txt (where main.py and generate.py read by default) of the tiny grammar:
    known to the model after a few hundred sentences, so a trained model's loss is far below uniform guessing."""
    rng = random.Random(0)
    corpus = folder / "data" / "wikitext-2"
    corpus.mkdir(parents=True)
    for split, count in (("train", 300), ("valid", 40), ("test", 40)):
        lines = (f"the {rng.choice(_NOUNS)} {rng.choice(_VERBS)} on the {rng.choice(_NOUNS)}\n" for _ in range(count))
        (corpus / f"{split}.txt").write_text("".join(lines))


def _language_model_numbers(output):
    train = [float(x) for x in re.findall(r"\| loss +([\d.]+)", output)]
    valid = [float(x) for x in re.findall(r"valid loss +([\d.]+)", output)]
    test = float(re.search(r"test loss +([\d.]+)", output).group(1))
    return train, valid, test


def _grammatical_share(text):
    words = text.split()
    pairs = list(zip(words, words[1:]))
    return sum(pair in _GRAMMAR for pair in pairs) / len(pairs)


@pytest.mark.parametrize("model", ["LSTM", "GRU", "RNN_TANH", "Transformer"])
def test_word_language_model_learns_the_grammar(model, tmp_path):
    """pytorch/examples word_language_model (main.py, model.py, data.py; generate.py after the LSTM and Transformer):
    2 epochs of 21 batches with AdamW (its --use-optimizer path; its plain-SGD default at lr 20 diverges on this
    corpus in both libraries), clip_grad_norm_, the best model saved with torch.save and reloaded with torch.load under
    serialization.safe_globals. Both runs learn the grammar: the test loss ends far below uniform guessing (ln of the
    vocabulary), and the text generate.py samples from the saved model (at temperature 0.5) mostly follows it."""
    args = ["--model", model, "--epochs", "2", "--emsize", "32", "--nhid", "32", "--bptt", "10", "--batch_size", "10",
            "--log-interval", "5", "--use-optimizer", "--lr", "0.03"] + (["--tied"] if model == "LSTM" else [])
    runs = _pair("word_language_model", args, tmp_path, prepare=_write_corpus)
    for output in _finish(runs, "word_language_model"):
        train, valid, test = _language_model_numbers(output)
        assert len(train) == 8 and len(valid) == 2, output
        assert abs(train[0] - math.log(_WORDS)) < 1.0, output  # the first logged batches: still near guessing
        assert test < 0.5 * math.log(_WORDS) and valid[-1] < train[0], output
    if model not in ("LSTM", "Transformer"):
        return
    generated = {}
    for lib in ("torch", "torsh"):
        folder = tmp_path / lib / "word_language_model"
        _output(_start(folder, "generate.py", ["--words", "60", "--log-interval", "20", "--temperature", "0.5"], lib, tmp_path), lib)
        generated[lib] = (folder / "generated.txt").read_text()
    for lib, text in generated.items():
        assert len(text.split()) == 60, text
        assert _grammatical_share(text) > 0.6, f"{lib} generated: {text}"


# -- time_sequence_prediction: two LSTMCells learn sine waves with LBFGS ---------------------------------------------
def _write_sine_waves(folder):
    """traindata.pt as generate_sine_wave.py writes it (the same formula, torch.save of a float64 NumPy array), but
    10 waves of 100 steps instead of 100 of 1000: an LBFGS step is 20 passes through every time step."""
    np.random.seed(2)
    period, length, count = 20, 100, 10
    x = np.array(range(length)) + np.random.randint(-4 * period, 4 * period, count).reshape(count, 1)
    with open(folder / "traindata.pt", "wb") as f:
        torch_ref.save(np.sin(x / 1.0 / period).astype("float64"), f)


def test_time_sequence_prediction_fits_sine_waves_with_lbfgs(tmp_path):
    """pytorch/examples time_sequence_prediction/train.py, one LBFGS step (20 closure evaluations, its strong-Wolfe-
    free default line search) of a double-precision LSTMCell stack, then 1000 steps predicted and plotted. The program
    torch.loads a pickled NumPy array, which PyTorch 2.13's weights_only default refuses (torsh raises alike), so both
    runs set PyTorch's TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD, as its own error message suggests."""
    env = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "MPLBACKEND": "Agg"}
    ours, ref = _both("time_sequence_prediction", ["--steps", "1"], tmp_path, script="train.py", env=env,
                      prepare=_write_sine_waves)
    for output in (ours, ref):
        losses = [float(x) for x in re.findall(r"^loss: ([\d.e-]+)$", output, re.M)]
        test_loss = float(re.search(r"test loss: ([\d.e-]+)", output).group(1))
        assert len(losses) == 20, output
        assert abs(losses[0] - 0.5) < 0.1  # an untrained model predicts ~0: the mean square of a sine
        assert losses[-1] < 0.05 and test_loss < 0.05, output
    for lib in ("torch", "torsh"):
        assert (tmp_path / lib / "time_sequence_prediction" / "predict0.pdf").stat().st_size > 0


# -- vae, dcgan, mnist_rnn, mnist_forward_forward: torchvision programs on the stand-in's synthetic data ------------
def test_vae_example_trains_alike(tmp_path):
    """pytorch/examples vae/main.py: a fully connected VAE (reparameterisation with randn_like, binary cross-entropy
    + KL) trained one epoch with Adam on the synthetic MNIST (8 batches), reconstructions and samples saved as PNGs."""
    ours, ref = _both("vae", ["--epochs", "1", "--batch-size", "64", "--log-interval", "2"], tmp_path)
    for output in (ours, ref):
        losses = [float(x) for x in re.findall(r"Loss: ([\d.]+)", output)]
        test_loss = float(re.search(r"Test set loss: ([\d.]+)", output).group(1))
        assert abs(losses[0] - 784 * math.log(2)) < 30, output  # untrained: every pixel guessed at 1/2
        assert losses[-1] < 0.85 * losses[0] and test_loss < 0.85 * losses[0], output
    for lib in ("torch", "torsh"):
        results = tmp_path / lib / "vae" / "results"
        assert {p.name for p in results.glob("*.png")} == {"reconstruction_1.png", "sample_1.png"}


def _dcgan_numbers(output):
    return [float(x) for x in re.search(r"Loss_D: (\S+) Loss_G: (\S+) D\(x\): (\S+) D\(G\(z\)\): (\S+) / (\S+)",
                                        output).groups()]


def test_dcgan_example_runs_a_training_step(tmp_path):
    """pytorch/examples dcgan/main.py on its 'fake' dataset (64x64 RGB images: the networks are built for that
    size) with narrow networks (--nz/--ngf/--ndf) for one --dry-run iteration: both networks' printed structure, one
    discriminator and one generator step (BCELoss, Adam), the image grids and both checkpoints saved. torsh loads the
    generator checkpoint PyTorch saved, and it has the same entries as torsh's own."""
    args = ["--dataset", "fake", "--workers", "0", "--batchSize", "8", "--nz", "16", "--ngf", "8", "--ndf", "8",
            "--niter", "1", "--dry-run", "--manualSeed", "1"]
    ours, ref = _both("dcgan", args, tmp_path)
    for output in (ours, ref):
        loss_d, loss_g, d_x, d_g_z1, d_g_z2 = _dcgan_numbers(output)
        assert abs(loss_d - 2 * math.log(2)) < 0.6 and 0 < loss_g < 3, output  # an untrained D guesses ~1/2
        assert all(0 < p < 1 for p in (d_x, d_g_z1, d_g_z2)), output
    import torsh
    saved = {lib: torsh.load(tmp_path / lib / "dcgan" / "netG_epoch_0.pth") for lib in ("torch", "torsh")}
    assert {k: (tuple(v.shape), v.dtype) for k, v in saved["torch"].items()} == \
        {k: (tuple(v.shape), v.dtype) for k, v in saved["torsh"].items()}


def test_mnist_rnn_example_trains_alike(tmp_path):
    """pytorch/examples mnist_rnn/main.py: an LSTM over the image rows, BatchNorm1d, Dropout2d, Adadelta, StepLR, one
    epoch of 16 batches of the synthetic MNIST at --lr 1; both runs start at chance level and learn alike (loosely:
    16 batches only begin to separate the classes)."""
    args = ["--epochs", "1", "--batch-size", "32", "--test-batch-size", "256", "--log-interval", "2", "--lr", "1"]
    ours, ref = _both("mnist_rnn", args, tmp_path)
    for output in (ours, ref):
        losses = [float(x) for x in re.findall(r"Loss: ([\d.]+)", output)]
        correct, total = (int(x) for x in re.search(r"Accuracy: (\d+)/(\d+)", output).groups())
        assert len(losses) == 8 and abs(losses[0] - math.log(10)) < 0.4, output
        assert min(losses[-2:]) < 0.9 * losses[0] and correct / total > 0.2, output  # chance: 0.1


def test_mnist_forward_forward_example_trains_alike(tmp_path):
    """pytorch/examples mnist_forward_forward/main.py: Hinton's forward-forward training, layer by layer, on one
    batch of 256 synthetic images (--train_size), 30 epochs per layer. The first loss depends little on the weights
    (the goodness threshold dominates), so both runs print nearly the same one; the errors are fractions."""
    args = ["--epochs", "30", "--train_size", "256", "--test_size", "256", "--log-interval", "10"]
    ours, ref = _both("mnist_forward_forward", args, tmp_path)
    numbers = {}
    for lib, output in (("torsh", ours), ("torch", ref)):
        losses = [float(x) for x in re.findall(r"Loss: +([\d.]+)", output)]
        errors = [float(x) for x in re.findall(r"error: ([\d.]+)", output)]
        assert len(errors) == 2 and all(0 <= e <= 1 for e in errors), output
        numbers[lib] = losses
    assert abs(numbers["torsh"][0] - numbers["torch"][0]) < 0.05, numbers


def test_siamese_network_example_runs_a_training_step(tmp_path):
    """pytorch/examples siamese_network/main.py: a ResNet-18 (the stand-in's torchvision.models.resnet18, its conv1
    replaced and its children sliced into a Sequential by the program) compares pairs of synthetic MNIST digits drawn
    by a Dataset over the tensors MNIST.data / MNIST.targets; one --dry-run training step (BCELoss, Adadelta), then
    the whole test set (256 pairs). One step teaches nothing: the checks are that both runs start at BCE's level for
    untrained outputs and report an accuracy over the whole test set."""
    args = ["--epochs", "1", "--batch-size", "32", "--test-batch-size", "128", "--dry-run", "--log-interval", "1"]
    ours, ref = _both("siamese_network", args, tmp_path)
    for output in (ours, ref):
        loss = float(re.search(r"Loss: ([\d.]+)", output).group(1))
        correct, total = (int(x) for x in re.search(r"Accuracy: (\d+)/(\d+)", output).groups())
        assert 0.3 < loss < 1.5 and total == 256 and 0 <= correct <= total, output
