"""Programs from PyTorch's examples repository (tests/programs/, BSD licence) run unchanged with torsh.

Each program runs twice in a subprocess: as is (``import torch``), then with its torch import lines rewritten to
torsh (``import torsh as torch``, ``import torch.nn as nn`` -> ``import torsh.nn as nn``, ...), in a Python where
``import torch`` fails, so nothing of PyTorch can be used. Both runs must finish and print the same lines (numbers
aside).

The programs initialise their own weights from ``torch.manual_seed``; torsh's generator does not reproduce
PyTorch's random stream (nor its dropout masks), so the two runs start from different weights and the losses are
compared as curves: both must fall the same way (from the same start to the same low level), loosely.
"""
import math
import pathlib
import re
import subprocess
import sys

import pytest

from helpers import needs_torch

pytestmark = needs_torch

PROGRAMS = pathlib.Path(__file__).parent / "programs"
TIMEOUT = 240  # seconds per run: a hung run fails instead of blocking the suite
# the torch import statements of a program, rewritten to torsh; everything else stays byte for byte
_IMPORTS = [(re.compile(r"^import torch$", re.M), "import torsh as torch"),
            (re.compile(r"^import torch\.", re.M), "import torsh."),
            (re.compile(r"^from torch(\.| )", re.M), r"from torsh\1")]


def torsh_source(source):
    for pattern, replacement in _IMPORTS:
        source = pattern.sub(replacement, source)
    return source


def _run(path, args, tmp_path, lib):
    """The program's stdout, run as a script from ``tmp_path`` (files it writes land there)."""
    source = path.read_text()
    env = None
    if lib == "torsh":
        source = torsh_source(source)
        blocker = tmp_path / "no_torch"
        (blocker / "torch").mkdir(parents=True, exist_ok=True)
        (blocker / "torch" / "__init__.py").write_text("raise ImportError('the torsh run must not use torch')\n")
        env = {"PYTHONPATH": str(blocker), "PATH": str(pathlib.Path(sys.executable).parent)}
    script = tmp_path / f"{path.parent.name}_{lib}.py"
    script.write_text(source)
    done = subprocess.run([sys.executable, str(script), *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=TIMEOUT, env=env)
    assert done.returncode == 0, f"{lib} run of {path.parent.name} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def _templates(output):
    """The output's lines with every number replaced by '#': what kind of output, not its values."""
    return [re.sub(r"[-+]?\d+(\.\d+)?", "#", line) for line in output.splitlines()]


def _both(name, args, tmp_path):
    path = PROGRAMS / name / "main.py"
    ref = _run(path, args, tmp_path, "torch")
    ours = _run(path, args, tmp_path, "torsh")
    assert _templates(ours) == _templates(ref), f"torsh printed:\n{ours}\ntorch printed:\n{ref}"
    return ours, ref


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
