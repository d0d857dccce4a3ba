"""Server reload under load: does ``kill -HUP`` on gunicorn or on granian fail requests?

Serves the iris model with 2 workers (gunicorn with examples/deploy/gunicorn.conf.py, granian
with ``pld granian``), drives it with clients that predict in a loop, half of them over
kept-alive connections and half with a new connection per request, sends SIGHUP to the main
process ``--reloads`` times, and counts failed requests by kind. After a failure a client
waits 50 ms and goes on (a new connection for the kept-alive ones).

    python bench/server_reload.py [--reloads 2] [--clients 8] [--servers gunicorn,granian]
    python bench/server_reload.py --servers granian --behind-nginx

``--behind-nginx`` puts nginx with examples/deploy/nginx.conf in front (the set-up of
tests/test_slow_clients.py) and sends the clients to it.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from serving import QUERY, free_port, pld_fit, write_config  # noqa: E402


class Clients:
    """``count`` threads predicting until stopped; even ones keep their connection alive."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.ok = collections.Counter[str]()
        self.failed = collections.Counter[str]()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i % 2 == 0,)) for i in range(count)
        ]

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self, keep_alive: bool) -> None:
        kind = "kept-alive" if keep_alive else "new connection"
        connection = None
        while not self._stop.is_set():
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                headers = {} if keep_alive else {"Connection": "close"}
                connection.request("GET", f"/predict?{QUERY}", headers=headers)
                response = connection.getresponse()
                response.read()
                problem = None if response.status == 200 else f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as exc:
                problem = type(exc).__name__
            if problem is not None or not keep_alive:
                connection.close()
                connection = None
            with self._lock:
                if problem is None:
                    self.ok[kind] += 1
                else:
                    self.failed[f"{kind}: {problem}"] += 1
            if problem is not None:
                time.sleep(0.05)
        if connection is not None:
            connection.close()


def nginx_in_front(port: int, folder: Path) -> contextlib.AbstractContextManager[str]:
    """nginx with examples/deploy/nginx.conf proxying to ``port``: its base URL."""
    path = REPO / "tests" / "test_slow_clients.py"
    spec = importlib.util.spec_from_file_location("pld_slow_client_helpers", path)
    assert spec is not None and spec.loader is not None
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    front = folder / f"nginx-{port}"
    front.mkdir()
    return helpers.nginx_in_front(f"http://127.0.0.1:{port}", front, 10)  # type: ignore[no-any-return]


def start(kind: str, port: int, env: dict[str, str], folder: Path) -> subprocess.Popen[bytes]:
    bind = f"127.0.0.1:{port}"
    tools = Path(sys.executable).parent
    if kind == "gunicorn":
        conf = str(REPO / "examples" / "deploy" / "gunicorn.conf.py")
        command = [str(tools / "gunicorn"), "-c", conf, "--bind", bind, "pld_core.wsgi:app"]
        command += ["--access-logfile", "/dev/null"]
    else:
        command = [str(tools / "pld"), "granian", "--bind", bind, "--no-access-log"]
    return subprocess.Popen(
        command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/alive", timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"no server on port {port} within 120 s") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reloads", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--settle", type=float, default=25.0, help="seconds after each SIGHUP (> 2 x 10 s)"
    )
    parser.add_argument("--servers", default="gunicorn,granian")
    parser.add_argument("--behind-nginx", action="store_true", help="clients talk to nginx")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pld-reload-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, "config.py", "/models.db")
        pld_fit(config)
        env = {**os.environ, "PLD_CONFIG": str(config), "WEB_CONCURRENCY": "2"}
        env["XDG_RUNTIME_DIR"] = str(folder)  # gunicorn >= 25 puts its control socket there
        for kind in args.servers.split(","):
            if not shutil.which(kind) and not (Path(sys.executable).parent / kind).exists():
                print(f"{kind} is not installed: left out", file=sys.stderr)
                continue
            port = free_port()
            process = start(kind, port, env, folder)
            try:
                wait_ready(port)
                with contextlib.ExitStack() as stack:
                    target = port
                    if args.behind_nginx:
                        base = stack.enter_context(nginx_in_front(port, folder))
                        target = int(base.rsplit(":", 1)[1])
                        kind += " behind nginx"
                    clients = stack.enter_context(Clients(target, args.clients))
                    time.sleep(2)
                    for _ in range(args.reloads):
                        process.send_signal(signal.SIGHUP)
                        time.sleep(args.settle)
            finally:
                process.terminate()
                process.wait(timeout=60)
            answered = sum(clients.ok.values())
            failed = ", ".join(f"{n} {what}" for what, n in sorted(clients.failed.items()))
            print(
                f"{kind}: {args.reloads} reloads, {answered:,} requests answered "
                f"({dict(clients.ok)}), failed: {failed or 'none'}"
            )


if __name__ == "__main__":
    main()
