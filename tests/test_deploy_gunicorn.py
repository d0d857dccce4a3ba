"""The documented production command, for real: gunicorn with examples/deploy/gunicorn.conf.py.

Two servers of 2 preloaded workers each share one SQLite store; after ``pld admin activate 2``
every worker of both must serve version 2: one server refreshes on its cache's rrule schedule
(which the post_fork hook restarts in each worker), the other on POST /update-model-cache.
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
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from pld_core import make_cli
from pld_core.testing import free_port

REPO = Path(__file__).resolve().parents[1]
GUNICORN_CONF = REPO / "examples" / "deploy" / "gunicorn.conf.py"
QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
WORKERS = 2
REFRESH = ("rrule", "endpoint")

# Added after the example's own config.py: later files win per top-level key.
DEPLOY_CONFIG = """{
    'model_persister': {
        '!': 'cached-update',
        'update_cache_rrule': %(rrule)s,
        'impl': {'!': 'database', 'url': 'sqlite:///' + here + '/models.db'},
    },
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/update-model-cache', 'view_func': 'update-model-cache',
         'methods': ['POST']},
    ],
    'alive': {'process_store_required': ['model_persister']},
}
"""

pytestmark = pytest.mark.integration


def request(port: int, path: str, data: bytes | None = None) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def raw_request(sock: socket.socket) -> tuple[int, dict]:
    """Read the answer to a request sent on ``sock`` (it asked to close the connection)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def on_every_worker(port: int, path: str, method: str = "GET") -> list[tuple[int, dict]]:
    """Send ``path`` twice, the second while the first is half-sent; answers in that order.

    The config's gthread workers give the half-sent request a thread, not the whole worker,
    so the second request may go to either worker: callers repeat until both answered.
    """
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
    head += "Connection: close\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as held:
        held.sendall(head.encode())
        time.sleep(0.2)  # let a worker accept it
        other = request(port, path, data=b"" if method == "POST" else None)
        held.sendall(b"\r\n")
        return [raw_request(held), other]


def versions_by_worker(port: int) -> dict[int, int]:
    """Worker pid → the model version it serves, from /alive, until both workers answered."""
    seen: dict[int, int] = {}
    for _ in range(30):  # which worker accepts a connection is up to the kernel
        for status, body in on_every_worker(port, "/alive"):
            assert status == 200, body
            pid = body["process_metadata"]["worker"]["pid"]
            seen[pid] = body["model_persister"]["metadata"]["version"]
        if len(seen) == WORKERS:
            return seen
    raise AssertionError(f"reached only the workers {sorted(seen)}")


def config_env(app: Path, refresh: str) -> str:
    return f"{app / 'config.py'},{app / f'deploy-{refresh}.py'}"


def pld(app: Path, *args: str) -> str:
    """Run a ``pld`` command in-process (a subprocess would import scikit-learn again)."""
    env = {"PLD_CONFIG": config_env(app, "endpoint"), "PALLADIUM_CONFIG": None}
    old = Path.cwd()
    os.chdir(app)  # the example's config.py names iris.data relative to the working directory
    try:
        result = CliRunner().invoke(make_cli(), list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A copy of examples/iris, model version 1 fitted into a SQLite store, and two
    deploy configs over that store: refresh by rrule (every second) or by endpoint only."""
    app = tmp_path / "iris"
    app.mkdir()
    for name in ("config.py", "iris.data"):
        shutil.copy(REPO / "examples" / "iris" / name, app / name)
    for refresh, rrule in (("rrule", "{'freq': 'SECONDLY', 'interval': 1}"), ("endpoint", "None")):
        (app / f"deploy-{refresh}.py").write_text(DEPLOY_CONFIG % {"rrule": rrule})
    assert "Wrote model with version 1." in pld(app, "fit")
    return app


@contextmanager
def gunicorn(app: Path, refresh: str) -> Iterator[int]:
    """``gunicorn -c examples/deploy/gunicorn.conf.py pld_core.wsgi:app`` on a free port."""
    port = free_port()
    run_dir = tempfile.TemporaryDirectory(prefix="pld-")  # short: a unix socket path is <108
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env.update(
        PLD_CONFIG=config_env(app, refresh),
        PLD_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(WORKERS),
        XDG_RUNTIME_DIR=run_dir.name,  # gunicorn >= 25 puts its control socket there
    )
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "-c",
        str(GUNICORN_CONF),
        "pld_core.wsgi:app",
    ]
    log = app / f"gunicorn-{refresh}.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command, env=env, cwd=app, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        run_dir.cleanup()


def wait_until_alive(port: int, log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if request(port, "/alive")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"gunicorn did not answer /alive: {log.read_text()}")
        time.sleep(0.1)


def wait_for_version(port: int, version: int, refresh: Callable[[], None] = lambda: None) -> None:
    deadline = time.monotonic() + 30
    while True:
        refresh()
        versions = versions_by_worker(port)
        if set(versions.values()) == {version}:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"port {port}: the workers serve {versions}")
        time.sleep(0.3)


@pytest.mark.slow
def test_two_servers_on_one_store_follow_an_activation(app):
    with ExitStack() as stack:
        # Both start at once: each preloads the app in its master and forks 2 workers.
        ports = {refresh: stack.enter_context(gunicorn(app, refresh)) for refresh in REFRESH}
        for refresh, port in ports.items():
            wait_until_alive(port, app / f"gunicorn-{refresh}.log")
            status, body = request(port, f"/predict?{QUERY}")
            assert status == 200 and body["result"] == "Iris-versicolor", body
            assert set(versions_by_worker(port).values()) == {1}

        assert "Wrote model with version 2." in pld(app, "fit", "--no-activate")
        assert pld(app, "admin", "activate", "2").strip() == "Activated model with version 2."

        # The rrule schedule runs in every worker: the post_fork hook restarted it there.
        wait_for_version(ports["rrule"], 2)

        def update_model_cache() -> None:
            for status, body in on_every_worker(ports["endpoint"], "/update-model-cache", "POST"):
                assert status == 200 and "job_id" in body, body
            time.sleep(0.2)  # the reload is a background job in each worker

        wait_for_version(ports["endpoint"], 2, update_model_cache)
        status, body = request(ports["endpoint"], "/list")
        assert body["properties"]["active-model"] == "2"


def test_nginx_example_proxies_to_the_gunicorn_bind(tmp_path):
    text = (REPO / "examples" / "deploy" / "nginx.conf").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert code.count("{") == code.count("}")
    assert "server 127.0.0.1:8000;" in code and "proxy_pass http://pld;" in code
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto"):
        assert f"proxy_set_header {header} " in code
    for line in filter(None, (line.strip() for line in code.splitlines())):
        assert line.endswith((";", "{", "}")), line
    nginx = shutil.which("nginx")
    if nginx:  # a full syntax check where nginx is installed
        conf = tmp_path / "nginx.conf"
        conf.write_text(f"events {{}}\nhttp {{\n{code}\n}}\n")
        done = subprocess.run(
            [nginx, "-t", "-c", str(conf)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0 or "permission" in done.stderr.lower(), done.stderr
