"""gunicorn worker class benchmark: sync against gthread for pld's iris predict.

Serves pld with examples/deploy/gunicorn.conf.py (2 workers) twice: as shipped (gthread,
8 threads per worker) and with the former sync workers (``--worker-class sync --threads 1``),
and drives both with wrk like bench/serving.py: single-row GET at 1 and 16 connections (also
with ``Connection: close``, as nginx talks to its upstream by default), and a 1,000-row POST
at 4 connections. Then it holds 2 half-sent requests and times a normal ``GET /predict``
(capped at ``--slow-cap`` seconds; sync workers answer once gunicorn's timeout kills them).

    python bench/worker_class.py [--duration 5] [--runs 3] [--slow-cap 90]

Needs gunicorn (pip) and wrk (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from serving import POST_LUA, QUERY, REPO, free_port, median_of, prepare, run_wrk

CONF = REPO / "examples" / "deploy" / "gunicorn.conf.py"
CLASSES = {"sync": ["--worker-class", "sync", "--threads", "1"], "gthread": []}
SCENARIOS = [  # name, connections, method, extra wrk arguments
    ("GET 1 row, 1 conn", 1, "GET", []),
    ("GET 1 row, 16 conns", 16, "GET", []),
    ("GET 1 row, 16 conns, close", 16, "GET", ["-H", "Connection: close"]),
    ("POST 1000 rows, 4 conns", 4, "POST", []),
]


class Server:
    """gunicorn -c examples/deploy/gunicorn.conf.py, 2 workers, with extra options."""

    def __init__(self, options: list[str], config: Path, cwd: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.run_dir = tempfile.TemporaryDirectory(prefix="pld-")
        env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
        env.update(PLD_CONFIG=str(config), WEB_CONCURRENCY="2", XDG_RUNTIME_DIR=self.run_dir.name)
        command = [shutil.which("gunicorn") or "gunicorn", "-c", str(CONF)]
        command += ["--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"]
        command += ["--access-logfile", "/dev/null", *options, "pld_core.wsgi:app"]
        self.process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/predict?{QUERY}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.base} did not answer in 60 s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self.run_dir.cleanup()


def measure(server: Server, duration: int, post_script: Path) -> dict[str, dict[str, float]]:
    results = {}
    for name, connections, method, extra in SCENARIOS:
        url = f"{server.base}/predict" + (f"?{QUERY}" if method == "GET" else "")
        script = post_script if method == "POST" else None
        results[name] = run_wrk_with(url, connections, duration, script, extra)
    return results


def run_wrk_with(
    url: str, connections: int, duration: int, script: Path | None, extra: list[str]
) -> dict[str, float]:
    if not extra:
        return run_wrk(url, connections, duration, script)
    # serving.run_wrk takes no headers: put them in a Lua script instead.
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        name, _, value = extra[1].partition(": ")
        lua.write(f'wrk.headers["{name}"] = "{value}"\n')
    try:
        return run_wrk(url, connections, duration, Path(lua.name))
    finally:
        os.unlink(lua.name)


def slow_client_latency(server: Server, held: int, cap: float) -> float:
    """Seconds until GET /predict is answered while ``held`` requests are half-sent."""
    head = f"GET /predict?{QUERY} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
    socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(held)]
    try:
        for sock in socks:
            sock.sendall(head)
        time.sleep(0.5)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(f"{server.base}/predict?{QUERY}", timeout=cap) as r:
                r.read()
        except OSError:
            return float("inf")
        return time.monotonic() - started
    finally:
        for sock in socks:
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median)")
    parser.add_argument("--slow-cap", type=float, default=90, help="max wait, slow clients")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config, _model, body = prepare(folder)
        post_script = folder / "post.lua"
        post_script.write_text(POST_LUA % body.decode())
        runs: dict[str, list] = {label: [] for label in CLASSES}
        slow: dict[str, float] = {}
        for run in range(args.runs):
            for label, options in CLASSES.items():  # alternate, so drift hits both alike
                server = Server(options, config, folder)
                try:
                    runs[label].append(measure(server, args.duration, post_script))
                    if run == 0:
                        slow[label] = slow_client_latency(server, 2, args.slow_cap)
                finally:
                    server.stop()
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
    medians = {label: median_of(entries) for label, entries in runs.items()}
    print(
        f"\ngunicorn -c examples/deploy/gunicorn.conf.py, 2 workers, 127.0.0.1, wrk "
        f"{args.duration}s x {args.runs} runs (medians), {os.cpu_count()} CPUs"
    )
    print(f"{'scenario':<30}{'class':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, *_ in SCENARIOS:
        for label in CLASSES:
            s = medians[label][name]
            print(
                f"{name:<30}{label:<9}{s['rps']:>9.0f}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}"
                f"{s['errors']:>8.0f}"
            )
        ratio = medians["gthread"][name]["rps"] / medians["sync"][name]["rps"]
        print(f"{'':<30}gthread/sync throughput {ratio:.3f}x")
    for label, seconds in slow.items():
        shown = f">{args.slow_cap:.0f} s" if seconds == float("inf") else f"{seconds:.3f} s"
        print(f"{label}: GET /predict with 2 half-sent requests held answered after {shown}")


if __name__ == "__main__":
    main()
