"""torsh's OpenMP wait policy (torsh/backend/kernels.py): idle workers sleep at once (OMP_WAIT_POLICY=PASSIVE) unless
TORSH_OMP_SPINCOUNT asks them to spin that many polls first (GOMP_SPINCOUNT), the two-thread A/B switch of issue 20;
a user's own OMP_WAIT_POLICY always wins. Checked in fresh processes: libgomp reads these once, at load."""
import os
import subprocess
import sys

import pytest

_PROBE = ("import os, torsh; torsh.set_num_threads(2); torsh.relu(torsh.randn(2_000_000)); print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'), "
          "torsh.relu(torsh.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0])")


def _run(**env):
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
                                                               "TORSH_OMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", _PROBE], env={**clean, **env}, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.parametrize("env,expected", [
    ({}, ["PASSIVE", "None", "True"]),
    ({"TORSH_OMP_SPINCOUNT": "5000"}, ["None", "5000", "True"]),
    ({"TORSH_OMP_SPINCOUNT": "5000", "OMP_WAIT_POLICY": "ACTIVE"}, ["ACTIVE", "None", "True"]),
])
def test_wait_policy_switch(env, expected):
    assert _run(**env) == expected
