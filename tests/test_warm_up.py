"""Warm-up: a version that cannot predict its sample rows is never served (real ``pld serve``)."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from pld_core import load_config, process_store
from pld_core.testing import free_port, http_json, running_server

PLD = str(Path(sys.executable).parent / "pld")
QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
WARM_UP = """
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/update-model-cache', 'view_func': 'update-model-cache'},
    ],"""
BROKEN_MODULE = '''
class Broken:
    """Loads fine, raises on every prediction."""

    def __init__(self, good):
        self.good = good
        self.__metadata__ = dict(good.__metadata__)

    def predict(self, X, **kwargs):
        raise RuntimeError("this version cannot predict")
'''


def _with_warm_up(config: Path, warm_up: str) -> None:
    text = config.read_text().replace(
        "'impl': {'!': 'file', 'path': here + '/model-{version}'},",
        "'impl': {'!': 'file', 'path': here + '/model-{version}'}, " + warm_up,
    )
    assert warm_up in text
    config.write_text(text)


def _store_broken_version(tmp_path: Path, config: Path) -> int:
    """Write a model that raises on predict as a new version and activate it."""
    (tmp_path / "broken_model.py").write_text(BROKEN_MODULE)
    sys.path.insert(0, str(tmp_path))
    try:
        import broken_model

        settings = load_config(str(config), __mode__="fit")
        store = settings["model_persister"]
        good = store.read()
        version = store.write(broken_model.Broken(good))
        store.activate(version)
        sys.modules.pop("broken_model", None)
        return int(version)
    finally:
        sys.path.remove(str(tmp_path))


def _wait_for_job(base: str, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _status, alive = http_json(f"{base}/alive")
        job = alive["process_metadata"].get("jobs", {}).get(job_id)
        if job is not None and job["status"] != "running":
            return alive
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.mark.parametrize("warm_up", ["'warm_up': True", "'warm_up': here + '/sample.json'"])
def test_a_version_failing_warm_up_is_never_served_under_load(
    fitted_iris, write_iris_config, tmp_path, warm_up
):
    config = write_iris_config(WARM_UP)
    _with_warm_up(config, warm_up)
    sample = [{"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}]
    (tmp_path / "sample.json").write_text(json.dumps(sample * 3))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env.update(PLD_CONFIG=str(config), PYTHONPATH=str(tmp_path))
    with running_server([PLD, "serve", "--port", str(port)], port, cwd=tmp_path, env=env) as base:
        failures: list = []
        answered = [0]
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                status, body = http_json(f"{base}/predict?{QUERY}")
                answered[0] += 1
                if status != 200 or body.get("result") != "Iris-versicolor":
                    failures.append((status, body))

        clients = [threading.Thread(target=load) for _ in range(2)]
        for client in clients:
            client.start()
        try:
            broken = _store_broken_version(tmp_path, config)
            for _ in range(3):  # tried again and again: refused each time
                status, started = http_json(f"{base}/update-model-cache", body={})
                assert status == 200
                alive = _wait_for_job(base, started["job_id"])
                job = alive["process_metadata"]["jobs"][started["job_id"]]
                assert job["status"] == "error" and "warm-up" in job["info"]
        finally:
            time.sleep(0.5)
            stop.set()
            for client in clients:
                client.join()
        assert failures == [] and answered[0] > 0
        cache = alive["process_metadata"]["model_cache"]["model_persister"]
        assert cache["version"] == 1 and cache["rejected_version"] == broken
        assert "failed its warm-up" in cache["last_error"]
        assert "this version cannot predict" in cache["last_error"]
        assert alive["model_persister"]["metadata"]["version"] == 1
        print(f"warm-up under load: {answered[0]} requests, {len(failures)} failed")


def test_a_first_version_failing_warm_up_is_not_served_and_alive_says_why(
    fitted_iris, write_iris_config, tmp_path
):
    config = write_iris_config(WARM_UP)
    _with_warm_up(config, "'warm_up': 'test', 'warm_up_rows': 5")
    broken = _store_broken_version(tmp_path, config)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env.update(PLD_CONFIG=str(config), PYTHONPATH=str(tmp_path))
    with running_server([PLD, "serve", "--port", str(port)], port, cwd=tmp_path, env=env) as base:
        status, body = http_json(f"{base}/predict?{QUERY}")
        assert status == 503, body
        assert "failed its warm-up" in json.dumps(body), body
        status, alive = http_json(f"{base}/alive")
        assert status == 503
        assert f"version {broken} failed its warm-up" in alive["model_error"]


def test_a_bad_warm_up_setting_is_a_config_error(fitted_iris, write_iris_config):
    config = write_iris_config()
    _with_warm_up(config, "'warm_up': 3")
    with pytest.raises(Exception, match="warm_up must be true, 'test' or the path"):
        load_config(str(config))["model_persister"]
    process_store.clear()
