"""torsh.distributed between two processes: ``mpiexec -n 2`` on tests/distributed_scripts/two_ranks.py
(collectives, point-to-point, objects, groups, DistributedSampler, and DistributedDataParallel whose parameters
after 3 steps on half batches equal a single-process run on the full batch, in float64).

MPI is installed by the project's set-up (mpi4py and the mpich wheel in requirements-dev.txt), so a missing or
failing MPI is a failure here, never a skip."""
import os
import pathlib
import shutil
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).parent / "distributed_scripts" / "two_ranks.py"
TIMEOUT_S = 300  # a hang (a collective one rank never joins) fails instead of blocking the run


def _mpiexec():
    """The mpiexec of this environment (the mpich wheel's, beside the interpreter), else one on PATH."""
    beside = pathlib.Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    assert found, ("mpiexec not found: torsh.distributed's tests need MPI, which `make setup` installs from "
                   "requirements-dev.txt (mpi4py, mpich); run `make setup` or pip install mpi4py mpich")
    return found


def test_two_processes():
    # one OpenMP / BLAS thread each: two ranks share the machine's cores
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    for variable in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(variable, None)
    try:
        done = subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(SCRIPT)], capture_output=True,
                              text=True, timeout=TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"mpiexec -n 2 did not finish in {TIMEOUT_S} s (a rank hung):\n{e.stdout}\n{e.stderr}")
    report = f"exit code {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 0, f"mpiexec -n 2 {SCRIPT.name} failed (could MPI start?): {report}"
    assert "rank 0 ok" in done.stdout and "rank 1 ok" in done.stdout, report  # each rank's last line
