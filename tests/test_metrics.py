"""Prometheus metrics: requests counted and timed per endpoint, summed over gunicorn workers."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from pld_core import create_app, load_config
from pld_core.testing import free_port, http_json, running_server

GUNICORN_CONF = Path(__file__).resolve().parents[1] / "examples" / "deploy" / "gunicorn.conf.py"
QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
METRICS = """
    'predict_decorators': ['prometheus-metrics'],
    'alive_decorators': ['prometheus-metrics'],
    'metrics_rule': {'!': 'url-rule', 'rule': '/metrics', 'methods': ['GET'],
                     'view_func': 'pld_plugins.metrics.metrics_view'},"""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "pid"))
            found[(sample.name, labels)] = found.get((sample.name, labels), 0.0) + sample.value
    return found


def requests(endpoint: str, method: str, status: str):
    labels = (("endpoint", endpoint), ("method", method), ("status", status))
    return ("pld_http_requests_total", labels)


def test_requests_are_counted_and_timed_by_endpoint_and_status(fitted_iris, write_iris_config):
    client = Client(create_app(load_config(str(write_iris_config(METRICS)))))
    before = samples(client.get("/metrics").get_data(as_text=True))
    for _ in range(3):
        assert client.get(f"/predict?{QUERY}").status_code == 200
    assert client.get("/predict?sepal%20length=x").status_code == 400
    assert client.post("/predict", json=[]).status_code == 400
    assert client.get("/alive").status_code == 200
    assert client.get("/list").status_code == 200  # not in a measured list

    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["Content-Type"] == CONTENT_TYPE_LATEST  # Prometheus' text format
    after = samples(scrape.get_data(as_text=True))

    def grew(key):
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew(requests("/predict", "GET", "200")) == 3
    assert grew(requests("/predict", "GET", "400")) == 1
    assert grew(requests("/predict", "POST", "400")) == 1
    assert grew(requests("/alive", "GET", "200")) == 1
    assert grew(requests("/list", "GET", "200")) == 0
    timed = (
        "pld_http_request_duration_seconds_count",
        (("endpoint", "/predict"), ("method", "GET")),
    )
    assert grew(timed) == 4


@pytest.mark.slow
def test_gunicorn_workers_are_summed_in_multiprocess_mode(fitted_iris, write_iris_config, tmp_path):
    """examples/deploy/gunicorn.conf.py: preloaded app, 2 workers, counts of a run before wiped."""
    config = write_iris_config(METRICS)
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env.update(PLD_CONFIG=str(config), PROMETHEUS_MULTIPROC_DIR=str(shared), WEB_CONCURRENCY="2")
    stale = "from pld_plugins.metrics import endpoint_metrics as m; "
    stale += "m().requests.labels('/predict', 'GET', '200').inc(1000)"
    subprocess.run([sys.executable, "-c", stale], env=env, check=True)  # a previous run's count
    assert list(shared.glob("counter_*.db"))
    port = free_port()
    env["PLD_BIND"] = f"127.0.0.1:{port}"
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [gunicorn, "-c", str(GUNICORN_CONF), "pld_core.wsgi:app"]
    sent = {"200": 0, "400": 0}
    with running_server(command, port, cwd=tmp_path, env=env) as url, ThreadPoolExecutor(8) as pool:
        # Concurrent requests, until both workers have answered some (each then has a file).
        while len(list(shared.glob("counter_*.db"))) < 2 and sent["200"] < 2000:
            good = pool.map(http_json, [f"{url}/predict?{QUERY}"] * 40)
            bad = pool.map(http_json, [f"{url}/predict?sepal%20length=x"] * 5)
            assert {status for status, _ in good} == {200}
            assert {status for status, _ in bad} == {400}
            sent["200"] += 40
            sent["400"] += 5
        scrapes = []
        for _ in range(6):  # each scrape is answered by either worker: all must agree
            with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
                scrapes.append(samples(response.read().decode()))
    assert len(list(shared.glob("counter_*.db"))) == 2  # both workers counted requests
    for found in scrapes:
        assert found[requests("/predict", "GET", "200")] == sent["200"]
        assert found[requests("/predict", "GET", "400")] == sent["400"]
