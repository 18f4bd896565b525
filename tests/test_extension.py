"""The JupyterLab extension (extension/): its TypeScript tests run on documents torsh writes,
and the prebuilt labextension is installed in this environment.

The browser tests (tests/browser/) check that JupyterLab actually draws them.
"""
import os
import shutil
import subprocess
import sys

import pytest

from browser.torsh_docs import write_examples

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTENSION = os.path.join(ROOT, "extension")
BIN = os.path.dirname(sys.executable)


def _env():
    # jlpm and jupyter live next to this python; node must be on PATH
    return dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))


def test_typescript_tests_pass_on_documents_written_by_torsh(tmp_path):
    if shutil.which("node", path=_env()["PATH"]) is None:
        pytest.fail("node (>= 20) is not on PATH: the extension's TypeScript tests need it")
    if not os.path.isdir(os.path.join(EXTENSION, "node_modules")):
        pytest.fail("extension/node_modules is missing: `pip install ./extension` (make setup) runs jlpm install")
    paths = write_examples(tmp_path)
    assert len(paths) == 4
    env = dict(_env(), TORSH_EXAMPLES=str(tmp_path), TORSH_SCHEMAS=os.path.join(ROOT, "docs", "schemas"))
    run = subprocess.run([os.path.join(BIN, "jlpm"), "test", "--reporter=verbose"], cwd=EXTENSION, env=env,
                         capture_output=True, text=True, timeout=600)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    # the example documents were really read: each file name shows up as a test case
    for path in paths:
        assert os.path.basename(path) in output, output[-3000:]
    assert "skipped" not in output.split("Tests")[-1], output[-2000:]


def test_labextension_is_installed_and_enabled():
    run = subprocess.run([os.path.join(BIN, "jupyter"), "labextension", "list"], env=_env(),
                         capture_output=True, text=True, timeout=300)
    listing = (run.stdout + run.stderr).replace("\x1b[32m", "").replace("\x1b[0m", "")
    line = next((l for l in listing.splitlines() if "torsh-jupyterlab" in l), None)
    assert line is not None, f"torsh-jupyterlab not installed (pip install ./extension):\n{listing}"
    assert "enabled" in line and "OK" in line, line
    assert sys.prefix in listing.split("torsh-jupyterlab")[0] or "python, torsh-jupyterlab" in line, listing
