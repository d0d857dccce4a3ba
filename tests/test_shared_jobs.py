"""Jobs every gunicorn worker reports: one store shared by 3 workers, cancel, lost runners."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pld_core.testing import free_port, http_json, running_server

SLOW_MODEL = '''
import os, time
from sklearn.linear_model import LogisticRegression


class GatedLogistic(LogisticRegression):
    """Fits only once the file ``release`` exists (at most 120 s): a fit that takes its time."""

    def fit(self, X, y, **kwargs):
        deadline = time.monotonic() + 120
        while not os.path.exists("release") and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().fit(X, y, **kwargs)
'''
RULES = """
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/rollback', 'view_func': 'rollback', 'methods': ['POST']},
    ],"""
VOLATILE = ("heartbeat", "progress")


pytestmark = pytest.mark.slow


@pytest.fixture
def gunicorn(fitted_iris, write_iris_config, tmp_path):
    config = write_iris_config(RULES)
    text = config.read_text().replace(
        "'!': 'sklearn.linear_model.LogisticRegression'", "'!': 'gated_model.GatedLogistic'"
    )
    assert "gated_model" in text
    config.write_text(text)
    (tmp_path / "gated_model.py").write_text(SLOW_MODEL)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env.update(PLD_CONFIG=str(config), PYTHONPATH=str(tmp_path))
    log = tmp_path / "access.log"
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--workers",
        "3",
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        str(log),
        "--access-logformat",
        "%(p)s %(m)s %(U)s",
        "pld_core.wsgi:app",
    ]
    with running_server(command, port, cwd=tmp_path, env=env) as base:
        try:
            yield base, tmp_path, log
        finally:
            (tmp_path / "release").touch()  # let running fits end so the workers can stop


def _job(base: str, job_id: str) -> dict:
    status, alive = http_json(f"{base}/alive")
    assert status == 200, alive
    return alive["process_metadata"]["jobs"][job_id]


def _steady(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in VOLATILE}


def _wait(base: str, job_id: str, until, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = _job(base, job_id)
        if until(record):
            return record
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never got there: {record}")


def _delete(url: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, method="DELETE")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_every_worker_reports_a_job_identically_and_cancel_stops_it(gunicorn):
    base, folder, log = gunicorn
    status, started = http_json(f"{base}/fit", form=b"evaluate=true")
    assert status == 200
    job_id = started["job_id"]
    _wait(base, job_id, lambda r: r.get("progress", {}).get("stage") == "Fitting model")

    with ThreadPoolExecutor(6) as pool:  # concurrent polls: every worker answers some
        seen = list(pool.map(lambda _: _job(base, job_id), range(50)))
    assert len(seen) == 50
    assert all(_steady(record) == _steady(seen[0]) for record in seen)
    assert seen[0]["status"] == "running" and seen[0]["func"] == "fit"
    assert seen[0]["params"] == {"persist": True, "activate": True, "evaluate": True}
    answering = {line.split()[0] for line in log.read_text().splitlines() if "/alive" in line}
    print(f"50 /alive polls answered by {len(answering)} workers, one record")
    assert len(answering) >= 2

    status, one = http_json(f"{base}/jobs/{job_id}")
    assert status == 200 and one["job_id"] == job_id and one["status"] == "running"
    status, asked = _delete(f"{base}/jobs/{job_id}")
    assert status == 200 and asked["cancel_requested"] is True
    (folder / "release").touch()
    ended = _wait(base, job_id, lambda r: r["status"] != "running")
    assert ended["status"] == "cancelled", ended
    assert "Writing model" in ended["info"] or "Loading test data" in ended["info"]
    status, listing = http_json(f"{base}/list")
    assert [m["version"] for m in listing["models"]] == [1]  # nothing was persisted
    assert _delete(f"{base}/jobs/{job_id}")[0] == 409
    assert http_json(f"{base}/jobs/no-such-job")[0] == 404


def test_a_job_whose_worker_is_killed_is_marked_lost(gunicorn):
    base, _folder, _log = gunicorn
    status, started = http_json(f"{base}/fit", form=b"")
    job_id = started["job_id"]
    running = _wait(base, job_id, lambda r: r.get("progress", {}).get("stage") == "Fitting model")
    os.kill(running["pid"], signal.SIGKILL)
    killed = time.monotonic()
    lost = _wait(base, job_id, lambda r: r["status"] != "running", timeout=60)
    print(f"worker killed: job reported lost after {time.monotonic() - killed:.2f} s")
    assert lost["status"] == "lost", lost
    assert f"process {running['pid']}" in lost["info"] and "has ended" in lost["info"]
    status, record = http_json(f"{base}/jobs/{job_id}")
    assert status == 200 and record["status"] == "lost"


def test_rollback_over_http_goes_back_one_activation(gunicorn):
    base, folder, _log = gunicorn
    (folder / "release").touch()
    status, started = http_json(f"{base}/fit", form=b"")
    done = _wait(base, started["job_id"], lambda r: r["status"] != "running")
    assert done["status"] == "finished" and done["info"]["version"] == 2
    status, started = http_json(f"{base}/rollback", form=b"")
    assert status == 200
    done = _wait(base, started["job_id"], lambda r: r["status"] != "running")
    assert done["info"] == {"rolled_back_from": 2, "active": 1}, done
    status, listing = http_json(f"{base}/list")
    assert listing["properties"]["active-model"] == "1"
