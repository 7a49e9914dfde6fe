"""JupyterLab serves the course: a server on loopback opens a notebook
through its REST API and starts a kernel for it."""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers.course import all_notebooks

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("jupyter-home")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_DATA_DIR=str(home / "data"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={ROOT}", "--ServerApp.open_browser=False",
         "--allow-root"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            _get(base, token, "/api/status")
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("JupyterLab did not start within 60 s")
            time.sleep(0.5)
    yield base, token
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _request(base, token, path, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": f"token {token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return resp.status, raw


def _get(base, token, path):
    status, raw = _request(base, token, path)
    return status, raw


def test_lab_page_is_served(server):
    status, raw = _get(*server, "/lab")
    assert status == 200 and b"JupyterLab" in raw


def test_notebook_opens_through_the_contents_api(server):
    notebooks = all_notebooks()
    assert notebooks, "no notebooks to open"
    rel = notebooks[0].relative_to(ROOT).as_posix()
    status, raw = _get(*server, f"/api/contents/{rel}?content=1")
    model = json.loads(raw)
    assert status == 200 and model["type"] == "notebook"
    first = model["content"]["cells"][0]["source"]
    assert first.startswith("# Day 1 ·")


def test_a_kernel_starts_for_the_notebook(server):
    rel = all_notebooks()[0].relative_to(ROOT).as_posix()
    status, raw = _request(*server, "/api/sessions", "POST",
                           {"path": rel, "type": "notebook",
                            "kernel": {"name": "python3"}})
    session = json.loads(raw)
    assert status == 201
    kernel_id = session["kernel"]["id"]
    try:
        status, raw = _get(*server, f"/api/kernels/{kernel_id}")
        assert status == 200 and json.loads(raw)["name"] == "python3"
    finally:
        _request(*server, f"/api/sessions/{session['id']}", "DELETE")
