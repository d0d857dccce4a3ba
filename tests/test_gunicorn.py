"""The WSGI app under real gunicorn (2 sync workers): predictions, and /fit → job → /alive."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
FIT_RULE = """
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
    ],"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, data: bytes | None = None) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def gunicorn(fitted_iris, write_iris_config, tmp_path):
    config = write_iris_config(FIT_RULE)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env["PLD_CONFIG"] = str(config)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "pld_core.wsgi:app",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {process.stderr.read()}")
            try:
                get(base + "/alive")
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()


def test_gunicorn_serves_predictions_and_runs_fit_jobs(gunicorn):
    status, body = get(f"{gunicorn}/predict?{QUERY}")
    assert status == 200 and body["result"] == "Iris-versicolor"

    status, body = get(f"{gunicorn}/fit", data=b"evaluate=true")
    assert status == 200
    job_id = body["job_id"]
    # Jobs live in the worker that ran them; /alive is answered by either worker.
    deadline = time.monotonic() + 60
    job = None
    while time.monotonic() < deadline:
        status, alive = get(f"{gunicorn}/alive")
        job = alive["process_metadata"].get("jobs", {}).get(job_id)
        if job is not None and job["status"] != "running":
            break
        time.sleep(0.1)
    assert job is not None and job["status"] == "finished", job
    assert job["info"]["version"] == 2 and job["info"]["activated"] is True
    assert job["params"] == {"evaluate": True}
    status, listing = get(f"{gunicorn}/list")
    assert [m["version"] for m in listing["models"]] == [1, 2]
