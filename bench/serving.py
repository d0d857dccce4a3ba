"""Serving benchmark, one table: raw Werkzeug app and pld, on gunicorn, granian and uWSGI.

Both apps serve the same iris LogisticRegression, each server with 2 workers on 127.0.0.1,
driven by wrk: single-row GET at 1 and 16 connections, 1,000-row POST at 4 connections. Per
server and app it reports requests/s, rows/s, server CPU per request, p50/p99 latency, cold
start (spawn to first 200) and memory per worker; per app, the in-process microseconds of one
single-row GET through the WSGI app (no server, no socket), with and without compiled
inference (pld's ``compiled_inference``, ONNX; ``n/a`` when skl2onnx/onnxruntime are missing).

The servers, as documented in docs/deployment.md:

- gunicorn: ``examples/deploy/gunicorn.conf.py`` (gthread, 8 threads, preloaded), access
  log off;
- granian: ``pld granian`` (32 threads per worker) for pld, the same settings through
  granian's command line for the raw app, access log off;
- uWSGI (when installed, ``pip install pyuwsgi``): ``--http11-socket``, ``--enable-threads``,
  8 threads per worker.

Each run starts every server for raw and pld in turn (raw, pld, raw, pld...), so load from
other work on the machine hits both alike; the table holds medians over ``--runs``.

    python bench/serving.py [--duration 10] [--runs 3] [--servers gunicorn,granian,uwsgi]

Needs gunicorn and granian (``pip install "pld-plugins[serve]"``) and wrk (Debian ``wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
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
                        'impl': {'!': 'database', 'url': 'sqlite:///' + here + %(db)r}},
    'predict_service': {'!': 'predict-service', 'mapping': %(mapping)r},
    'logging': {'version': 1, 'disable_existing_loggers': False,
                'root': {'level': 'WARNING'}},%(extra)s
}"""
COMPILED = "\n    'compiled_inference': {'enabled': True},"
POST_LUA = """wrk.method = "POST"
wrk.body = [==[%s]==]
wrk.headers["Content-Type"] = "application/json"
"""
SCENARIOS = [  # key, connections, method
    ("get1", 1, "GET"),
    ("get16", 16, "GET"),
    ("post", 4, "POST"),
]
WORKERS = 2
GUNICORN_CONF = """from pld_plugins.deploy.gunicorn_conf import *  # noqa: F403
from pld_plugins.deploy.gunicorn_conf import post_fork, pre_fork  # noqa: F401

accesslog = None
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path, name: str, db: str, extra: str = "") -> Path:
    config = folder / name
    config.write_text(
        CONFIG
        % {
            "data": str(REPO / "examples" / "iris" / "iris.data"),
            "mapping": [(f, "float") for f in FIELDS],
            "db": db,
            "extra": extra,
        }
    )
    return config


def pld_fit(config: Path) -> None:
    env = {**os.environ, "PLD_CONFIG": str(config)}
    subprocess.run([shutil.which("pld") or "pld", "fit"], env=env, check=True, capture_output=True)


def compiled_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import skl2onnx  # noqa: F401

        import pld_plugins.compiled  # noqa: F401
    except ImportError:
        return False
    return True


def prepare(folder: Path) -> tuple[dict[str, Path], Path, bytes]:
    """Fit the model with pld (also with compiled inference when it can); export it for the
    raw app; build the 1,000-row POST body."""
    configs = {"pld": write_config(folder, "config.py", "/models.db")}
    if compiled_available():
        configs["pld-compiled"] = write_config(folder, "compiled.py", "/compiled.db", COMPILED)
    for config in configs.values():
        pld_fit(config)
    from pld_core import load_config

    model = load_config(str(configs["pld"]), __mode__="fit")["model_persister"].read()
    model_path = folder / "model.pickle"
    model_path.write_bytes(pickle.dumps(model))
    rows = [
        dict(zip(FIELDS, (5.0 + i % 3, 3.0, 1.5 + i % 5, 0.2 + i % 2), strict=True))
        for i in range(1000)
    ]
    return configs, model_path, json.dumps(rows).encode()


# -- in-process: one request through the WSGI app, no server ------------------------------


def in_process_us(app_name: str, number: int = 2000) -> float:
    """Microseconds for one single-row GET /predict through the WSGI app, in this process."""
    if app_name == "raw":
        sys.path.insert(0, str(REPO / "bench"))
        from raw_app import app
    else:
        from pld_core import create_app, load_config

        app = create_app(load_config())
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/predict",
        "QUERY_STRING": QUERY,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    statuses: list[str] = []

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        statuses.append(status)

    def one() -> None:
        import io

        body = app({**environ, "wsgi.input": io.BytesIO()}, start_response)
        b"".join(body)
        close = getattr(body, "close", None)
        if close is not None:
            close()

    one()
    assert statuses[-1].startswith("200"), statuses[-1]
    best = min(timeit.repeat(one, number=number, repeat=5))
    return best / number * 1e6


def measure_in_process(
    configs: dict[str, Path], model_path: Path, runs: int
) -> dict[str, float | None]:
    """Each app in its own process (two pld apps would share the cache's process store),
    in turn ``runs`` times (raw, pld, compiled, raw, ...): the median of each."""
    times: dict[str, list[float]] = {}
    env = {**os.environ, "RAW_MODEL_PATH": str(model_path)}
    jobs = [("raw", None), *[(name, path) for name, path in configs.items()]]
    for _ in range(runs):
        for name, config in jobs:
            extra = {"PLD_CONFIG": str(config)} if config else {}
            done = subprocess.run(
                [sys.executable, __file__, "--in-process", "raw" if name == "raw" else "pld"],
                env={**env, **extra},
                capture_output=True,
                text=True,
                check=True,
            )
            times.setdefault(name, []).append(float(done.stdout.strip().splitlines()[-1]))
    found: dict[str, float | None] = {"pld-compiled": None}
    found.update({name: statistics.median(values) for name, values in times.items()})
    return found


# -- servers ------------------------------------------------------------------------------


class Server:
    """One server with 2 workers serving one WSGI app, started in ``folder``."""

    def __init__(self, kind: str, app: str, env: dict[str, str], folder: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self.command(kind, app, folder),
            env={**env, "WEB_CONCURRENCY": str(WORKERS), "XDG_RUNTIME_DIR": str(folder)},
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.cold_start = self._wait_ready(started)

    def command(self, kind: str, app: str, folder: Path) -> list[str]:
        bind = f"127.0.0.1:{self.port}"
        target = {"raw": "raw_app:app", "pld": "pld_core.wsgi:app"}[app]
        if kind == "gunicorn":
            conf = folder / "gunicorn_bench.py"
            conf.write_text(GUNICORN_CONF)
            return [_tool("gunicorn"), "-c", str(conf), "--bind", bind, target]
        if kind == "granian" and app == "pld":
            return [_tool("pld"), "granian", "--bind", bind, "--no-access-log"]
        if kind == "granian":  # the settings of `pld granian`, through granian's command line
            return [
                *(_tool("granian"), "--interface", "wsgi", "--no-ws", "--log-level", "warning"),
                *("--host", "127.0.0.1", "--port", str(self.port)),
                *("--workers", str(WORKERS), "--blocking-threads", "32"),
                *("--respawn-failed-workers", "--workers-kill-timeout", "30", target),
            ]
        if kind == "uwsgi":
            return [
                *(_tool("uwsgi"), "--http11-socket", bind, "--master", "--need-app"),
                *("--processes", str(WORKERS), "--enable-threads", "--threads", "8"),
                *("--die-on-term", "--disable-logging", "--module", target),
            ]
        raise ValueError(kind)

    def _wait_ready(self, started: float) -> float:
        while time.perf_counter() - started < 120:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.process.args} exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.base}/predict?{QUERY}", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.01)
        raise RuntimeError(f"server {self.base} did not answer within 120 s")

    def processes(self) -> list[psutil.Process]:
        master = psutil.Process(self.process.pid)
        return [master, *master.children(recursive=True)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.processes():
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def worker_memory_mb(self) -> tuple[float, float]:
        """Mean RSS and PSS of the workers (PSS counts shared pages once, split)."""
        workers = psutil.Process(self.process.pid).children(recursive=True)
        rss = [p.memory_info().rss for p in workers]
        pss = [getattr(p.memory_full_info(), "pss", 0) for p in workers]
        return statistics.mean(rss) / 2**20, statistics.mean(pss) / 2**20

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _tool(name: str) -> str:
    """The tool installed beside this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def available_servers(wanted: list[str]) -> list[str]:
    found = []
    for kind in wanted:
        if Path(_tool(kind)).exists():
            found.append(kind)
        else:
            print(f"bench: {kind} is not installed: left out", file=sys.stderr)
    return found


def run_wrk(url: str, connections: int, duration: int, script: Path | None) -> dict[str, float]:
    command = ["wrk", "-t", "1" if connections == 1 else "2", "-c", str(connections)]
    command += ["-d", f"{duration}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = {"errors": 0.0}
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
            result["errors"] += float(parts[-1])
        elif line.strip().startswith("Socket errors"):
            result["errors"] += sum(float(p.rstrip(",")) for p in parts[3::2])
    return result


def _ms(text: str) -> float:
    for unit, factor in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(text)


def measure(server: Server, duration: int, post_script: Path) -> dict[str, dict[str, float]]:
    results = {}
    for key, connections, method in SCENARIOS:
        url = f"{server.base}/predict" + (f"?{QUERY}" if method == "GET" else "")
        before = server.cpu_seconds()
        stats = run_wrk(url, connections, duration, post_script if method == "POST" else None)
        stats["cpu_us_per_req"] = (server.cpu_seconds() - before) / stats["requests"] * 1e6
        results[key] = stats
    rss, pss = server.worker_memory_mb()
    results["memory"] = {"rss": rss, "pss": pss}
    return results


def median_of(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {
        name: {key: statistics.median(run[name][key] for run in runs) for key in runs[0][name]}
        for name in runs[0]
    }


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median)")
    parser.add_argument("--servers", default="gunicorn,granian,uwsgi")
    parser.add_argument("--in-process", choices=["raw", "pld"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:  # the child of measure_in_process
        print(f"{in_process_us(args.in_process):.1f}")
        return
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is not installed (apt-get install wrk)")
    servers = available_servers(args.servers.split(","))

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="pld-bench-") as tmp:
        folder = Path(tmp)
        configs, model_path, body = prepare(folder)
        post_script = folder / "post.lua"
        post_script.write_text(POST_LUA % body.decode())
        in_process = measure_in_process(configs, model_path, args.runs)
        envs = {
            "raw": {"RAW_MODEL_PATH": str(model_path), "PYTHONPATH": str(REPO / "bench")},
            "pld": {"PLD_CONFIG": str(configs["pld"])},
        }
        measured: dict[tuple[str, str], dict[str, list]] = {}
        for run in range(args.runs):
            for kind in servers:
                for app in ("raw", "pld"):  # alternate, so drift hits both alike
                    server = Server(kind, app, {**os.environ, **envs[app]}, folder)
                    try:
                        stats = measure(server, args.duration, post_script)
                    finally:
                        server.stop()
                    entry = measured.setdefault((kind, app), {"runs": [], "cold": []})
                    entry["runs"].append(stats)
                    entry["cold"].append(server.cold_start)
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
    load_after = os.getloadavg()
    report(measured, in_process, args, (load_before, load_after))


def report(
    measured: dict[tuple[str, str], dict[str, list]],
    in_process: dict[str, float | None],
    args: argparse.Namespace,
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> None:
    medians = {key: median_of(entry["runs"]) for key, entry in measured.items()}
    print(f"\nServing benchmark: {machine()}")
    print(
        f"{WORKERS} workers per server on 127.0.0.1, wrk {args.duration} s per scenario, "
        f"medians of {args.runs} runs; load average (1 min) {load[0][0]:.1f} before, "
        f"{load[1][0]:.1f} after\n"
    )
    compiled = in_process.get("pld-compiled")
    header = [
        "server",
        "app",
        "req/s 1 conn",
        "req/s 16 conns",
        "rows/s (1,000-row POST)",
        "CPU µs/req (16 conns)",
        "p50 ms (16 conns)",
        "p99 ms (16 conns)",
        "cold start s",
        "RSS MB/worker",
        "PSS MB/worker",
        "in-process µs/req",
        "in-process µs/req, compiled",
    ]
    print("| " + " | ".join(header) + " |")
    print("| --- | --- |" + " ---: |" * (len(header) - 2))
    for (kind, app), stats in medians.items():
        get1, get16, post = stats["get1"], stats["get16"], stats["post"]
        inproc = in_process[app]
        cells = [
            kind,
            app,
            f"{get1['rps']:,.0f}",
            f"{get16['rps']:,.0f}",
            f"{post['rps'] * 1000:,.0f}",
            f"{get16['cpu_us_per_req']:,.0f}",
            f"{get16['p50_ms']:.2f}",
            f"{get16['p99_ms']:.2f}",
            f"{statistics.median(measured[(kind, app)]['cold']):.1f}",
            f"{stats['memory']['rss']:.0f}",
            f"{stats['memory']['pss']:.0f}",
            f"{inproc:.0f}" if inproc is not None else "n/a",
            f"{compiled:.0f}" if app == "pld" and compiled is not None else "n/a",
        ]
        print("| " + " | ".join(cells) + " |")
    errors = {k: sum(s[n]["errors"] for n, _, _ in SCENARIOS) for k, s in medians.items()}
    if any(errors.values()):
        print(f"\nerrors (non-2xx and socket errors, medians): {errors}")
    print()
    for kind in dict.fromkeys(k for k, _ in medians):
        raw, pld = medians[(kind, "raw")], medians[(kind, "pld")]
        ratios = ", ".join(
            f"{name} {pld[key]['rps'] / raw[key]['rps']:.2f}"
            for key, name in (("get1", "1 conn"), ("get16", "16 conns"), ("post", "1,000 rows"))
        )
        cpu = pld["get16"]["cpu_us_per_req"] / raw["get16"]["cpu_us_per_req"]
        print(f"{kind}: pld/raw throughput {ratios}; CPU per request {cpu:.2f}")
    if ("gunicorn", "raw") in medians:
        base = medians[("gunicorn", "raw")]["get16"]["rps"]
        for kind in dict.fromkeys(k for k, _ in medians):
            pld16 = medians[(kind, "pld")]["get16"]["rps"]
            print(f"pld on {kind} / raw on gunicorn, 16 conns: {pld16 / base:.2f}")


if __name__ == "__main__":
    main()
