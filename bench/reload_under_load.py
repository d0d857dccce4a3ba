"""Reload under load: do model swaps drop requests or slow them down?

Drives steady load on ``/predict`` while activating other model versions over and over (and
asking for cache refreshes), then reports failed requests and latency percentiles for
requests that overlapped a swap versus the rest.

Against your own running service (it must have the ``/activate`` and ``/update-model-cache``
endpoints switched on and at least two stored versions)::

    python bench/reload_under_load.py --url http://127.0.0.1:8000 --versions 1,2 \\
        --query 'sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5'

Without ``--url`` it builds the iris example in a temporary folder, fits two versions into
a SQLite store, and serves it with gunicorn (2 sync workers) on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IRIS_QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
CONFIG = """{
    'service_metadata': {'service_name': 'iris', 'service_version': '0.1'},
    'dataset_loader_train': {
        '!': 'table', 'path': %(data)r, 'sep': ',', 'nrows': 100,
        'names': ['sepal length', 'sepal width', 'petal length', 'petal width', 'species'],
        'target_column': 'species',
    },
    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3},
    'model_persister': {
        '!': 'cached-update',
        'update_cache_rrule': {'freq': 'SECONDLY', 'interval': 1},
        'impl': {'!': 'database', 'url': 'sqlite:///' + here + '/models.db'},
    },
    'predict_service': {'!': 'predict-service', 'mapping': %(mapping)r},
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/activate', 'view_func': 'activate', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/update-model-cache', 'view_func': 'update-model-cache',
         'methods': ['POST']},
    ],
    'logging': {'version': 1, 'disable_existing_loggers': False, 'root': {'level': 'WARNING'}},
}"""
FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]


class Load:
    """``connections`` threads sending GETs over keep-alive connections until stopped."""

    def __init__(self, url: str, query: str, connections: int) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.path = f"{parsed.path.rstrip('/')}/predict?{query}"
        self.records: list[tuple[float, float, bool]] = []  # start, end, ok
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, daemon=True) for _ in range(connections)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _run(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        records = []
        while not self._stop.is_set():
            start = time.perf_counter()
            try:
                connection.request("GET", self.path)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
            records.append((start, time.perf_counter(), ok))
        connection.close()
        self.records.extend(records)


def post(url: str, data: dict[str, str] | None = None) -> int:
    body = urllib.parse.urlencode(data or {}).encode()
    with urllib.request.urlopen(url, data=body, timeout=30) as response:
        return response.status


def swap(
    url: str, versions: list[int], swaps: int, interval: float, settle: float
) -> list[tuple[float, float]]:
    """Activate the versions in turn; each swap window lasts until every worker serves it."""
    windows = []
    for index in range(swaps):
        version = versions[index % len(versions)]
        start = time.perf_counter()
        post(f"{url}/activate", {"model_version": str(version)})
        post(f"{url}/update-model-cache")
        time.sleep(settle)  # schedules in the other workers reload within this time
        windows.append((start, time.perf_counter()))
        time.sleep(max(0.0, interval - settle))
    return windows


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
        if len(values) > 1
        else values[0]
    )


def report(records: list[tuple[float, float, bool]], windows: list[tuple[float, float]]) -> None:
    def in_window(start: float, end: float) -> bool:
        return any(start < w_end and end > w_start for w_start, w_end in windows)

    during = [(end - start) * 1000 for start, end, ok in records if in_window(start, end)]
    outside = [(end - start) * 1000 for start, end, ok in records if not in_window(start, end)]
    failed = sum(1 for _, _, ok in records if not ok)
    print(f"requests: {len(records)}, failed: {failed}, swaps: {len(windows)}")
    print(
        f"outside swaps: {len(outside):>7} requests, p50 {percentile(outside, 50):.2f} ms, "
        f"p99 {percentile(outside, 99):.2f} ms"
    )
    print(
        f"during swaps:  {len(during):>7} requests, p50 {percentile(during, 50):.2f} ms, "
        f"p99 {percentile(during, 99):.2f} ms"
    )
    ratio = percentile(during, 99) / percentile(outside, 99)
    print(f"p99 during / outside: {ratio:.2f}x")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_contained_service(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    config = folder / "config.py"
    config.write_text(
        CONFIG
        % {
            "data": str(REPO / "examples" / "iris" / "iris.data"),
            "mapping": [(f, "float") for f in FIELDS],
        }
    )
    env = {**os.environ, "PLD_CONFIG": str(config)}
    pld = shutil.which("pld") or "pld"
    for _ in range(2):
        subprocess.run([pld, "fit"], env=env, check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("gunicorn") or "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "pld_core.wsgi:app",
        ],
        env=env,
        cwd=folder,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/predict?{IRIS_QUERY}", timeout=2).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the service did not come up within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running service; default: start the iris example")
    parser.add_argument("--versions", default="1,2", help="versions to activate in turn")
    parser.add_argument("--query", default=IRIS_QUERY, help="the /predict query string")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--swaps", type=int, default=10)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between swaps")
    parser.add_argument(
        "--settle",
        type=float,
        default=1.5,
        help="seconds a swap window lasts (>= the cache refresh interval)",
    )
    args = parser.parse_args()
    versions = [int(v) for v in args.versions.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        process = None
        url = args.url
        if url is None:
            process, url = self_contained_service(Path(tmp))
        try:
            load = Load(url, args.query, args.connections)
            load.start()
            time.sleep(args.interval)  # steady state first
            windows = swap(url, versions, args.swaps, args.interval, args.settle)
            time.sleep(args.interval)
            load.stop()
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    report(load.records, windows)


if __name__ == "__main__":
    sys.exit(main())
