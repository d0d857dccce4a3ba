"""Slow clients do not starve the documented servers.

A client that sends half a request and then waits (a slow network, or slowloris on purpose)
holds whatever reads that request. Under gunicorn's sync workers that is a whole worker: two
such clients blocked both workers of a 2-worker server, and a normal request waited until
gunicorn killed them. The documented configs (examples/deploy/gunicorn.conf.py and the one
``pld dockerize`` images use) run gthread workers, where such a client holds one thread.

Each test holds 4 half-sent requests (2 with unfinished headers, 2 with half a body) on a
server of 2 workers, then a normal ``GET /predict`` must be answered within 1 s; finally the
held requests are completed and answered too, so the server never gave up on them. A
control shows the same clients do starve sync workers, and the nginx example in front of
sync workers holds them by itself, then times them out.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pld_core.testing import free_port, http_json, running_server

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONF = str(REPO / "examples" / "deploy" / "gunicorn.conf.py")
NGINX_CONF = REPO / "examples" / "deploy" / "nginx.conf"
SYNC = ("--worker-class", "sync", "--threads", "1")  # gunicorn runs gthread if threads > 1
IMAGE_CONF = "python:pld_plugins.deploy.gunicorn_conf"  # what `pld dockerize` images run
QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
ROW = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}
BODY = json.dumps([ROW, ROW]).encode()
HELD = 4
ANSWER_WITHIN = 1.0  # seconds; a prediction takes a few milliseconds

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class HalfRequest:
    """A connection that sent part of a request: headers without their end, or half a body."""

    def __init__(self, port: int, kind: str) -> None:
        if kind == "headers":
            head = f"GET /predict?{QUERY} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            self.sent, self.rest = head.encode(), b"\r\n"
        else:
            head = (
                "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
            )
            half = len(BODY) // 2
            self.sent, self.rest = head.encode() + BODY[:half], BODY[half:]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(self.sent)

    def finish(self) -> tuple[int, dict]:
        """Send the rest, read the answer to its end and close, as an HTTP client does.

        (gunicorn lingers up to 2 s, in the gthread worker's main loop, for the client to
        close its side after a ``Connection: close`` answer.)
        """
        self.sock.sendall(self.rest)
        answer = b""
        while chunk := self.sock.recv(65536):
            answer += chunk
        self.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head, "the server closed the connection without answering"
        return int(head.split()[1]), json.loads(body)

    def close(self) -> None:
        self.sock.close()


@contextmanager
def half_requests(base: str, count: int = HELD) -> Iterator[list[HalfRequest]]:
    port = int(base.rsplit(":", 1)[1])
    held: list[HalfRequest] = []
    try:
        for i in range(count):
            held.append(HalfRequest(port, "headers" if i % 2 == 0 else "body"))
        time.sleep(0.5)  # the server accepts them and starts reading
        yield held
    finally:
        for request in held:
            request.close()


def timed_predict(base: str, timeout: float) -> float:
    """Seconds until ``GET /predict`` was answered (it must be the right answer)."""
    started = time.monotonic()
    status, body = http_json(f"{base}/predict?{QUERY}", timeout=timeout)
    elapsed = time.monotonic() - started
    assert status == 200 and body["result"] == "Iris-versicolor", body
    return elapsed


def check_held_are_answered(held: list[HalfRequest]) -> None:
    for request in held:
        status, body = request.finish()
        assert status == 200, body
        result = body["result"]
        assert result in ("Iris-versicolor", ["Iris-versicolor", "Iris-versicolor"]), body


@contextmanager
def gunicorn(conf: str, config: Path, cwd: Path, *options: str, **env: str) -> Iterator[str]:
    """``gunicorn -c CONF --bind ... pld_core.wsgi:app`` with 2 workers, as documented."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pld-") as run_dir:  # short: a unix socket path
        environ = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
        environ.update(
            PLD_CONFIG=str(config),
            WEB_CONCURRENCY="2",
            XDG_RUNTIME_DIR=run_dir,  # gunicorn >= 25 puts its control socket there
            **env,
        )
        command = [str(Path(sys.executable).parent / "gunicorn"), "-c", conf]
        command += ["--bind", f"127.0.0.1:{port}", *options, "pld_core.wsgi:app"]
        with running_server(command, port, cwd=cwd, env=environ) as base:
            for _ in range(4):  # both workers have answered a prediction: warm
                timed_predict(base, timeout=30)
            yield base


@pytest.mark.parametrize("conf", [EXAMPLE_CONF, IMAGE_CONF], ids=["example", "image"])
def test_gunicorn_answers_while_slow_clients_hold_requests(fitted_iris, tmp_path, conf):
    # A short worker timeout: the held requests outlast it, and no worker may be killed.
    server = gunicorn(conf, fitted_iris, tmp_path, PLD_WORKER_TIMEOUT="4")
    with server as base, half_requests(base) as held:
        elapsed = timed_predict(base, timeout=10)
        print(f"GET /predict with {HELD} requests held: {elapsed * 1000:.1f} ms")
        assert elapsed < ANSWER_WITHIN
        time.sleep(5)  # past the worker timeout: a killed worker would drop its clients
        assert timed_predict(base, timeout=10) < ANSWER_WITHIN
        check_held_are_answered(held)


def test_the_held_requests_do_starve_sync_workers(fitted_iris, tmp_path):
    """The control: the same clients hold both workers of the old sync configuration.

    Without it the test above could pass because the held requests held nothing.
    """
    server = gunicorn(EXAMPLE_CONF, fitted_iris, tmp_path, *SYNC)
    with server as base, half_requests(base, count=2) as held:
        with pytest.raises(TimeoutError):
            timed_predict(base, timeout=ANSWER_WITHIN)
        check_held_are_answered(held)  # frees the workers


def test_pld_serve_answers_while_slow_clients_hold_requests(fitted_iris, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env["PLD_CONFIG"] = str(fitted_iris)
    command = [str(Path(sys.executable).parent / "pld"), "serve", "--port", str(port)]
    with running_server(command, port, cwd=tmp_path, env=env) as base:
        timed_predict(base, timeout=30)
        with half_requests(base) as held:
            elapsed = timed_predict(base, timeout=10)
            print(f"pld serve, GET /predict with {HELD} requests held: {elapsed * 1000:.1f} ms")
            assert elapsed < ANSWER_WITHIN
            check_held_are_answered(held)


@contextmanager
def nginx_in_front(upstream: str, folder: Path, client_timeout: int) -> Iterator[str]:
    """nginx with examples/deploy/nginx.conf on a free port, proxying to ``upstream``.

    Only what a test run needs changes: addresses, log and temporary paths, and the
    client timeouts (``client_timeout`` seconds instead of 10).
    """
    nginx = shutil.which("nginx")
    if nginx is None:
        pytest.skip("nginx is not installed (Debian package nginx-light)")
    port = free_port()
    text = NGINX_CONF.read_text()
    for old, new in [
        ("server 127.0.0.1:8000;", f"server {upstream.removeprefix('http://')};"),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("/var/log/nginx/pld.access.log", str(folder / "access.log")),
        ("/var/log/nginx/pld.error.log", str(folder / "error.log")),
        ("client_header_timeout 10s;", f"client_header_timeout {client_timeout}s;"),
        ("client_body_timeout 10s;", f"client_body_timeout {client_timeout}s;"),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    temp = "".join(
        f"{kind}_temp_path {folder / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = folder / "nginx.conf"
    conf.write_text(
        f"pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\nevents {{}}\n"
        f"http {{\n{temp}{text}\n}}\n"
    )
    command = [nginx, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"]
    with (folder / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http_json(f"{base}/alive")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    errors = (folder / "stderr.log").read_text()
                    raise AssertionError(f"nginx did not start: {errors}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def closed_without_answer(sock: socket.socket) -> bool:
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def test_nginx_in_front_holds_slow_clients_and_times_them_out(fitted_iris, tmp_path):
    """The buffering front by itself: nginx before gunicorn's old sync workers.

    nginx passes a request on only once it is complete, so the held requests reach no
    worker; after client_header_timeout / client_body_timeout nginx closes them.
    """
    front = tmp_path / "nginx"
    front.mkdir()
    with (
        gunicorn(EXAMPLE_CONF, fitted_iris, tmp_path, *SYNC) as upstream,
        nginx_in_front(upstream, front, client_timeout=3) as base,
        half_requests(base) as held,
    ):
        elapsed = timed_predict(base, timeout=10)
        print(f"nginx, GET /predict with {HELD} requests held: {elapsed * 1000:.1f} ms")
        assert elapsed < ANSWER_WITHIN
        check_held_are_answered(held[:2])  # nginx passes them on once complete
        time.sleep(4)  # past the client timeouts: nginx has closed the others
        for request in held[2:]:
            assert closed_without_answer(request.sock)
