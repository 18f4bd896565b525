"""A JupyterLab server on loopback and a headless Debian Chromium driven by Playwright.

Session-scoped: one server and one browser for all browser tests (JupyterLab's first load
is the slow part). Screenshots go to artifacts/browser/.
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from .torsh_docs import saved_outputs_notebook, write_examples

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "artifacts", "browser")
CHROMIUM = os.environ.get("TORSH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FIXTURE_NOTEBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notebooks")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, url, token, root):
        self.url, self.token, self.root = url, token, root

    def page_url(self, path):
        return f"{self.url}/lab/tree/{path}?token={self.token}&reset"


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """`jupyter lab` from this environment, serving a temporary copy of notebooks/ plus documents torsh wrote."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    shutil.copytree(os.path.join(ROOT, "notebooks"), root)
    if os.path.isdir(FIXTURE_NOTEBOOKS):
        for name in os.listdir(FIXTURE_NOTEBOOKS):
            shutil.copy(os.path.join(FIXTURE_NOTEBOOKS, name), root / name)
    write_examples(root)
    saved_outputs_notebook(str(root / "saved_outputs.ipynb"))

    # own settings: render every cell (no windowing) so offscreen outputs are in the DOM
    settings = base / "settings"
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(base / "ws"),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"), TORSH_NO_CALIBRATION="1",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    port, token = _free_port(), secrets.token_hex(16)
    log = open(base / "jupyter.log", "w")
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "jupyter"), "lab", "--no-browser",
         "--ServerApp.ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True"]
        + (["--allow-root"] if os.geteuid() == 0 else []),  # CI containers run as root
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"jupyter lab did not start:\n{(base / 'jupyter.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield Lab(url, token, root)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium "
                    "(apt-get install -y chromium) or set TORSH_CHROMIUM; the browser tests do not download one")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    os.makedirs(ARTIFACTS, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    yield page
    page.screenshot(path=os.path.join(ARTIFACTS, f"{request.node.name}-final.png"))
    context.close()


def shot(page, name):
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=False)

# the browser tests open these notebooks in JupyterLab; nbval (make test's --nbval) must not run them
collect_ignore_glob = ["notebooks/*.ipynb"]
