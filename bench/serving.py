"""Serving benchmark: pld's WSGI app against a minimal hand-written Werkzeug app.

Both serve the same iris LogisticRegression under gunicorn (2 sync workers, 127.0.0.1) and are
driven by wrk: single-row GET at 1 and 16 connections, 1,000-row POST at 4 connections. For
each it reports requests/s, p50/p99 latency, server CPU per request, cold start (spawn to first
200) and worker RSS, the median of ``--runs`` runs, and pld's ratio to the raw app. It also
times in-process ``predict`` on one row, the floor no server can beat.

    python bench/serving.py [--duration 10] [--runs 3]

Needs gunicorn (pip) and wrk (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
CONFIG = """{
    'service_metadata': {'service_name': 'iris', 'service_version': '0.1'},
    'dataset_loader_train': {
        '!': 'table', 'path': %(data)r, 'sep': ',', 'nrows': 100,
        'names': ['sepal length', 'sepal width', 'petal length', 'petal width', 'species'],
        'target_column': 'species',
    },
    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3},
    'model_persister': {'!': 'cached-update',
                        'impl': {'!': 'database', 'url': 'sqlite:///' + here + '/models.db'}},
    'predict_service': {'!': 'predict-service', 'mapping': %(mapping)r},
    'logging': {'version': 1, 'disable_existing_loggers': False,
                'root': {'level': 'WARNING'}},
}"""
POST_LUA = """wrk.method = "POST"
wrk.body = [==[%s]==]
wrk.headers["Content-Type"] = "application/json"
"""
SCENARIOS = [  # name, connections, method
    ("GET 1 row, 1 conn", 1, "GET"),
    ("GET 1 row, 16 conns", 16, "GET"),
    ("POST 1000 rows, 4 conns", 4, "POST"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(folder: Path) -> tuple[Path, Path, bytes]:
    """Fit the model with pld; export it for the raw app; build the 1,000-row POST body."""
    config = folder / "config.py"
    config.write_text(
        CONFIG
        % {
            "data": str(REPO / "examples" / "iris" / "iris.data"),
            "mapping": [(f, "float") for f in FIELDS],
        }
    )
    env = {**os.environ, "PLD_CONFIG": str(config)}
    subprocess.run([shutil.which("pld") or "pld", "fit"], env=env, check=True, capture_output=True)
    from pld_core import load_config

    model = load_config(str(config), __mode__="fit")["model_persister"].read()
    model_path = folder / "model.pickle"
    model_path.write_bytes(pickle.dumps(model))
    rows = [
        dict(zip(FIELDS, (5.0 + i % 3, 3.0, 1.5 + i % 5, 0.2 + i % 2), strict=True))
        for i in range(1000)
    ]
    return config, model_path, json.dumps(rows).encode()


def predict_floor(model_path: Path) -> float:
    """Microseconds for one in-process ``predict`` on one pre-built row."""
    import numpy

    model = pickle.loads(model_path.read_bytes())
    row = numpy.array([[6.3, 2.5, 4.9, 1.5]])
    number = 2000
    best = min(timeit.repeat(lambda: model.predict(row), number=number, repeat=5))
    return best / number * 1e6


class Server:
    """gunicorn with 2 sync workers serving one WSGI app."""

    def __init__(self, app: str, env: dict[str, str], cwd: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                shutil.which("gunicorn") or "gunicorn",
                "--workers",
                "2",
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                app,
            ],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.cold_start = self._wait_ready(started)

    def _wait_ready(self, started: float) -> float:
        while time.perf_counter() - started < 60:
            try:
                with urllib.request.urlopen(f"{self.base}/predict?{QUERY}", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.01)
        raise RuntimeError(f"server {self.base} did not answer within 60 s")

    def processes(self) -> list[psutil.Process]:
        master = psutil.Process(self.process.pid)
        return [master, *master.children(recursive=True)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.processes():
            times = proc.cpu_times()
            total += times.user + times.system
        return total

    def worker_rss_mb(self) -> float:
        workers = psutil.Process(self.process.pid).children(recursive=True)
        return sum(p.memory_info().rss for p in workers) / 2**20

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def run_wrk(url: str, connections: int, duration: int, script: Path | None) -> dict[str, float]:
    command = [
        "wrk",
        "-t",
        "1" if connections == 1 else "2",
        "-c",
        str(connections),
        "-d",
        f"{duration}s",
        "--latency",
        url,
    ]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = {}
    for line in output.splitlines():
        parts = line.split()
        if line.strip().startswith("50%"):
            result["p50_ms"] = _ms(parts[1])
        elif line.strip().startswith("99%"):
            result["p99_ms"] = _ms(parts[1])
        elif line.startswith("Requests/sec:"):
            result["rps"] = float(parts[1])
        elif "requests in" in line:
            result["requests"] = float(parts[0])
        elif line.strip().startswith("Non-2xx"):
            result["errors"] = float(parts[-1])
    result.setdefault("errors", 0.0)
    return result


def _ms(text: str) -> float:
    for unit, factor in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(text)


def measure(server: Server, duration: int, post_script: Path) -> dict[str, dict[str, float]]:
    results = {}
    for name, connections, method in SCENARIOS:
        url = f"{server.base}/predict" + (f"?{QUERY}" if method == "GET" else "")
        before = server.cpu_seconds()
        stats = run_wrk(url, connections, duration, post_script if method == "POST" else None)
        stats["cpu_us_per_req"] = (server.cpu_seconds() - before) / stats["requests"] * 1e6
        results[name] = stats
    return results


def median_of(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {
        name: {key: statistics.median(run[name][key] for run in runs) for key in runs[0][name]}
        for name in runs[0]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median)")
    parser.add_argument(
        "--input-checks",
        action="store_true",
        help="also serve pld with input_checks off, to measure what checking inputs costs",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is not installed (apt-get install wrk)")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config, model_path, body = prepare(folder)
        post_script = folder / "post.lua"
        post_script.write_text(POST_LUA % body.decode())
        floor = predict_floor(model_path)
        apps = {
            "raw": (
                "raw_app:app",
                {"RAW_MODEL_PATH": str(model_path), "PYTHONPATH": str(REPO / "bench")},
            ),
            "pld": ("pld_core.wsgi:app", {"PLD_CONFIG": str(config)}),
        }
        if args.input_checks:  # the same store, inputs unchecked
            unchecked = folder / "unchecked.py"
            text = config.read_text().rstrip()
            unchecked.write_text(text[:-1] + "    'input_checks': {'enabled': False},\n}")
            apps["pld-unchecked"] = ("pld_core.wsgi:app", {"PLD_CONFIG": str(unchecked)})
        measured: dict[str, dict] = {}
        for run in range(args.runs):
            for label, (app, extra) in apps.items():  # alternate, so drift hits both alike
                server = Server(app, {**os.environ, **extra}, folder)
                try:
                    stats = measure(server, args.duration, post_script)
                    entry = measured.setdefault(label, {"runs": [], "cold": [], "rss": []})
                    entry["runs"].append(stats)
                    entry["cold"].append(server.cold_start)
                    entry["rss"].append(server.worker_rss_mb())
                finally:
                    server.stop()
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)

    report(measured, floor, args)


def report(measured: dict[str, dict], floor: float, args: argparse.Namespace) -> None:
    medians = {label: median_of(entry["runs"]) for label, entry in measured.items()}
    print(
        f"\nServing benchmark: gunicorn, 2 sync workers, 127.0.0.1, wrk {args.duration}s x "
        f"{args.runs} runs (medians), {os.cpu_count()} CPUs"
    )
    print(f"in-process predict on one row: {floor:.1f} us\n")
    header = f"{'scenario':<26}{'app':<14}{'req/s':>10}{'rows/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
    print(header + f"{'CPU us/req':>12}{'errors':>8}")
    for name, _connections, method in SCENARIOS:
        rows_per_request = 1000 if method == "POST" else 1
        for label in medians:
            s = medians[label][name]
            print(
                f"{name:<26}{label:<14}{s['rps']:>10.0f}{s['rps'] * rows_per_request:>11.0f}"
                f"{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}{s['cpu_us_per_req']:>12.0f}"
                f"{s['errors']:>8.0f}"
            )
        raw, pld = medians["raw"][name], medians["pld"][name]
        print(
            f"{'':<26}{'pld/raw':<8} throughput {pld['rps'] / raw['rps']:.3f}x, "
            f"CPU per request {pld['cpu_us_per_req'] / raw['cpu_us_per_req']:.3f}x"
        )
        if "pld-unchecked" in medians:
            off = medians["pld-unchecked"][name]
            print(
                f"{'':<26}{'input checks on/off':<8} throughput {pld['rps'] / off['rps']:.3f}x, "
                f"CPU per request {pld['cpu_us_per_req'] / off['cpu_us_per_req']:.3f}x"
            )
    for label in measured:
        entry = measured[label]
        print(
            f"{label}: cold start to first 200 {statistics.median(entry['cold']):.2f} s, "
            f"worker RSS {statistics.median(entry['rss']):.0f} MB (2 workers)"
        )


if __name__ == "__main__":
    main()
