"""Small programs in the style of pytorch/examples and the tutorials (tests/program_probes/: REINFORCE and
actor-critic with distributions.Categorical; parametrizations, hooks, module API, einsum, clipping), seeded, run with
torch and with ``import torsh as torch``: torsh draws PyTorch's random streams, so both print the same lines, the same
numbers to float32 rounding (only the package name in reprs differs)."""
import pathlib
import re
import subprocess
import sys

import pytest

from helpers import needs_torch
from test_public_programs import torsh_source

pytestmark = needs_torch

PROBES = pathlib.Path(__file__).parent / "program_probes"
_NUMBER = re.compile(r"[-+]?\d+\.\d+(e[-+]?\d+)?")


def _stdout(source, tmp_path, name):
    script = tmp_path / name
    script.write_text(source)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env={"OMP_NUM_THREADS": "1", "PATH": str(pathlib.Path(sys.executable).parent)})
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def _split(output):
    """The output's text with numbers replaced by '#', and the numbers."""
    output = output.replace("torsh.", "torch.")
    return _NUMBER.sub("#", output), [float(m.group()) for m in _NUMBER.finditer(output)]


@pytest.mark.parametrize("program", ["reinforce_actor_critic.py", "parametrize_hooks_utils.py", "nanogpt_train_generate.py",
                                     "transformer_text_classifier.py"])
def test_program_prints_what_torch_prints(program, tmp_path):
    source = (PROBES / program).read_text()
    ours = _stdout(torsh_source(source), tmp_path, "torsh_" + program)
    ref = _stdout(source, tmp_path, "torch_" + program)
    (text, numbers), (ref_text, ref_numbers) = _split(ours), _split(ref)
    assert text == ref_text, f"torsh printed:\n{ours}\ntorch printed:\n{ref}"
    assert numbers == pytest.approx(ref_numbers, rel=1e-4, abs=1e-5), f"torsh printed:\n{ours}\ntorch printed:\n{ref}"
