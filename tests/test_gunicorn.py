"""The WSGI app under real gunicorn (2 sync workers): predictions, and /fit → job → /alive."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from pld_core.testing import free_port, http_json, running_server

QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
FIT_RULE = """
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
    ],"""


@pytest.fixture
def gunicorn(fitted_iris, write_iris_config, tmp_path):
    config = write_iris_config(FIT_RULE)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env["PLD_CONFIG"] = str(config)
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "pld_core.wsgi:app",
    ]
    with running_server(command, port, cwd=tmp_path, env=env) as base:
        yield base


def test_gunicorn_serves_predictions_and_runs_fit_jobs(gunicorn):
    status, body = http_json(f"{gunicorn}/predict?{QUERY}")
    assert status == 200 and body["result"] == "Iris-versicolor"

    status, body = http_json(f"{gunicorn}/fit", form=b"evaluate=true")
    assert status == 200
    job_id = body["job_id"]
    # Jobs live in the worker that ran them; /alive is answered by either worker.
    deadline = time.monotonic() + 60
    job = None
    while time.monotonic() < deadline:
        status, alive = http_json(f"{gunicorn}/alive")
        job = alive["process_metadata"].get("jobs", {}).get(job_id)
        if job is not None and job["status"] != "running":
            break
        time.sleep(0.1)
    assert job is not None and job["status"] == "finished", job
    assert job["info"]["version"] == 2 and job["info"]["activated"] is True
    assert job["params"] == {"persist": True, "activate": True, "evaluate": True}
    status, listing = http_json(f"{gunicorn}/list")
    assert [m["version"] for m in listing["models"]] == [1, 2]
