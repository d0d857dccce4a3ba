"""The WSGI app under real granian (``pld granian``, 2 workers), tested as gunicorn is.

One server (module scope) of 2 workers over a SQLite store, with the cached-update refresh
schedule (every second), Prometheus multiprocess metrics, /fit and /update-model-cache:

- predictions, and a /fit job any worker reports (tests/test_gunicorn.py);
- /metrics sums both workers and a previous run's counts are gone (tests/test_metrics.py);
- an activation reaches every worker while 8 clients predict: no request fails
  (tests/test_deploy_gunicorn.py, bench/reload_under_load.py);
- slow clients hold no worker (tests/test_slow_clients.py), with a control server of one
  thread that a half-sent body does starve;
- ``kill -HUP`` replaces both workers while 8 clients predict; unlike gunicorn, a few
  open connections are dropped (see the test), and behind the nginx example none is.
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from pld_core import fit, load_config, make_cli
from pld_core.testing import free_port, http_json

pytest.importorskip("granian", reason="granian is not installed (pip install granian)")


def _slow_client_helpers() -> ModuleType:
    """tests/test_slow_clients.py, loaded by path (``pytest tests`` need not have the
    repository on sys.path), so both servers face the same slow clients."""
    path = Path(__file__).with_name("test_slow_clients.py")
    spec = importlib.util.spec_from_file_location("pld_slow_client_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_helpers = _slow_client_helpers()
ANSWER_WITHIN = _helpers.ANSWER_WITHIN
QUERY = _helpers.QUERY
HalfRequest = _helpers.HalfRequest
check_held_are_answered = _helpers.check_held_are_answered
half_requests = _helpers.half_requests
timed_predict = _helpers.timed_predict

WORKERS = 2
#: How a connection that a stopping granian worker dropped shows to an HTTP client.
DROPPED = ("RemoteDisconnected", "ConnectionResetError", "ConnectionRefusedError", "BrokenPipe")
SERVING = """
    'model_persister': {
        '!': 'cached-update',
        'update_cache_rrule': {'freq': 'SECONDLY', 'interval': 1},
        'impl': {'!': 'database', 'url': 'sqlite:///' + here + '/models.db'},
    },
    'predict_decorators': ['prometheus-metrics'],
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/metrics', 'methods': ['GET'],
         'view_func': 'pld_plugins.metrics.metrics_view'},
    ],"""

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@contextmanager
def pld_granian(
    config: Path, cwd: Path, *options: str, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``pld granian --workers 2`` on a free port; yields its base URL and main process."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    environ.update(PLD_CONFIG=str(config), **env)
    command = [str(Path(sys.executable).parent / "pld"), "granian"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--no-access-log"]
    base = f"http://127.0.0.1:{port}"
    log = cwd / f"granian-{port}.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*command, *options], cwd=cwd, env=environ, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise AssertionError(f"pld granian exited: {log.read_text()}")
            try:
                http_json(f"{base}/alive")
                break
            except OSError:
                assert time.monotonic() < deadline, f"no answer: {log.read_text()}"
                time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=60)


def versions_by_worker(base: str, seconds: float = 60) -> dict[int, int]:
    """Worker pid → the model version it serves, asking /alive until both workers answered.

    Which worker accepts a connection is the kernel's choice: on a loaded machine, or while a
    worker an earlier test replaced is still starting, one worker can take every request for
    a while, so this keeps asking (up to ``seconds``) rather than a fixed number of times.
    """
    deadline = time.monotonic() + seconds
    seen: dict[int, int] = {}
    while True:
        seen.update(reached(base, tries=10))
        if len(seen) >= WORKERS:
            return seen
        assert time.monotonic() < deadline, f"reached only the workers {sorted(seen)}"
        time.sleep(0.2)


def reached(base: str, tries: int, tolerate: bool = False) -> dict[int, int]:
    """Worker pid → version, of the workers that answered 8 concurrent /alive ``tries`` times
    (with ``tolerate``, a refused or dropped connection is skipped)."""

    def alive(url: str) -> tuple[int, dict]:
        try:
            return http_json(url)
        except OSError:
            if not tolerate:
                raise
            return 0, {}

    seen: dict[int, int] = {}
    with ThreadPoolExecutor(4) as pool:
        for _ in range(tries):  # which worker accepts a connection is up to the kernel
            for status, body in pool.map(alive, [f"{base}/alive"] * 8):
                if status == 0:
                    continue
                assert status == 200, body
                pid = body["process_metadata"]["worker"]["pid"]
                seen[pid] = body["model_persister"]["metadata"]["version"]
            if len(seen) >= WORKERS:
                break
    return seen


class Load:
    """``connections`` clients predicting over kept-alive connections until stopped."""

    def __init__(self, base: str, connections: int = 8) -> None:
        self.port = int(base.rsplit(":", 1)[1])
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(connections)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set():
            try:
                connection.request("GET", f"/predict?{QUERY}")
                response = connection.getresponse()
                body = response.read()
                good = response.status == 200 and b"Iris-versicolor" in body
                problem = None if good else f"{response.status} {body[:200]!r}"
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            with self._lock:
                if problem is None:
                    self.ok += 1
                else:
                    self.failed.append(problem)
            if problem is not None:
                time.sleep(0.05)  # as a client would, before it tries again
        connection.close()


def pld(app: Path, *args: str) -> str:
    """A ``pld`` command in-process (a subprocess would import scikit-learn again)."""
    env = {"PLD_CONFIG": str(app / "config.py"), "PALLADIUM_CONFIG": None}
    result = CliRunner().invoke(make_cli(), list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, iris_config_text: str) -> Path:
    """The iris config over a SQLite store, version 1 fitted and active."""
    folder = tmp_path_factory.mktemp("granian")
    (folder / "config.py").write_text(iris_config_text.rstrip()[:-1] + SERVING + "\n}")
    fit(load_config(str(folder / "config.py"), __mode__="fit"))
    return folder


@pytest.fixture(scope="module")
def metrics_dir(app: Path) -> Path:
    """PROMETHEUS_MULTIPROC_DIR, holding a count of a previous run before the server starts."""
    shared = app / "prometheus"
    shared.mkdir()
    stale = "from pld_plugins.metrics import endpoint_metrics as m; "
    stale += "m().requests.labels('/predict', 'GET', '200').inc(1000)"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    subprocess.run([sys.executable, "-c", stale], env=env, check=True)
    assert list(shared.glob("counter_*.db"))
    return shared


@pytest.fixture(scope="module")
def server(app: Path, metrics_dir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    # On a busy test machine a worker can take 15 s to load the app: SIGHUP waits longer.
    with pld_granian(app / "config.py", app, "--reload-delay", "30", **env) as found:
        yield found


def predictions_counted(base: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "pid"}
            if sample.name == "pld_http_requests_total" and labels == {
                "endpoint": "/predict",
                "method": "GET",
                "status": "200",
            }:
                total += sample.value
    return total


def test_granian_serves_predictions_and_runs_fit_jobs(server, app):
    base, _ = server
    status, body = http_json(f"{base}/predict?{QUERY}")
    assert status == 200 and body["result"] == "Iris-versicolor"
    assert set(versions_by_worker(base).values()) == {1}  # each worker loaded the app itself

    status, body = http_json(f"{base}/fit", form=b"evaluate=true&activate=false")
    assert status == 200
    job_id = body["job_id"]
    deadline = time.monotonic() + 90
    job = None
    while time.monotonic() < deadline:  # whichever worker answers knows the job
        status, alive = http_json(f"{base}/alive")
        job = alive["process_metadata"].get("jobs", {}).get(job_id)
        if job is not None and job["status"] != "running":
            break
        time.sleep(0.2)
    assert job is not None and job["status"] == "finished", job
    assert job["info"]["version"] == 2 and job["info"]["activated"] is False


def test_metrics_sum_both_workers_and_start_from_zero(server, metrics_dir):
    base, _ = server
    before = predictions_counted(base)
    assert before < 1000  # the previous run's 1000 were wiped at start
    sent = 0
    with ThreadPoolExecutor(8) as pool:
        while len(list(metrics_dir.glob("counter_*.db"))) < WORKERS and sent < 2000:
            answers = pool.map(http_json, [f"{base}/predict?{QUERY}"] * 40)
            assert {status for status, _ in answers} == {200}
            sent += 40
    assert len(list(metrics_dir.glob("counter_*.db"))) == WORKERS
    for _ in range(6):  # either worker answers a scrape: each sums both
        assert predictions_counted(base) == before + sent


def test_an_activation_reaches_every_worker_under_load(server, app):
    base, _ = server
    with Load(base) as load:
        time.sleep(1)
        assert pld(app, "admin", "activate", "2").strip() == "Activated model with version 2."
        deadline = time.monotonic() + 30
        while set(versions_by_worker(base).values()) != {2}:  # the schedule, in each worker
            assert time.monotonic() < deadline, versions_by_worker(base)
            time.sleep(0.3)
        time.sleep(1)
    print(f"activation under load: {load.ok} requests, {len(load.failed)} failed")
    assert load.ok > 50 and load.failed == []


def test_slow_clients_hold_no_worker(server):
    base, _ = server
    held_count = 24  # 12 unfinished headers, 12 half bodies: more than gunicorn's 8 threads
    with half_requests(base, count=held_count) as held:
        elapsed = timed_predict(base, timeout=10)
        print(f"GET /predict with {held_count} requests held: {elapsed * 1000:.1f} ms")
        assert elapsed < ANSWER_WITHIN
        check_held_are_answered(held)


def test_half_sent_bodies_do_hold_threads_headers_do_not(app, tmp_path):
    """The control: one worker of one thread, which one half-sent body starves.

    Unfinished headers are read by granian itself, outside Python: 20 of them hold nothing.
    """
    options = ("--workers", "1", "--threads", "1")
    with pld_granian(app / "config.py", tmp_path, *options) as (base, _):
        timed_predict(base, timeout=30)
        port = int(base.rsplit(":", 1)[1])
        headers = [HalfRequest(port, "headers") for _ in range(20)]
        try:
            time.sleep(0.5)
            assert timed_predict(base, timeout=10) < ANSWER_WITHIN
            check_held_are_answered(headers[:2])
        finally:
            for request in headers:
                request.close()
        body = HalfRequest(port, "body")
        try:
            time.sleep(0.5)
            with pytest.raises(TimeoutError):
                timed_predict(base, timeout=ANSWER_WITHIN)
            check_held_are_answered([body])  # frees the thread
        finally:
            body.close()
        assert timed_predict(base, timeout=10) < ANSWER_WITHIN


def test_sighup_replaces_the_workers_under_load(server):
    """Not as graceful as gunicorn: the old workers drop a few open connections.

    A stopping granian worker closes its kept-alive connections, also one whose next request
    is on its way, and (each worker listens on its own SO_REUSEPORT socket) connections it
    had not yet accepted. gunicorn's master keeps one socket and the workers finish what
    they hold: bench/server_reload.py measures both. Here: the workers are replaced, the
    service answers throughout, and what fails is a dropped connection, never a wrong answer.
    """
    base, process = server
    before = versions_by_worker(base)
    with Load(base) as load:
        time.sleep(1)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 150
        while (seen := set(reached(base, tries=5, tolerate=True))) & set(before) or len(seen) < 2:
            assert time.monotonic() < deadline, f"the workers were not replaced: {seen}"
            time.sleep(0.5)
        time.sleep(1)
    print(f"SIGHUP under load: {load.ok} requests, {len(load.failed)} failed: {load.failed[:20]}")
    assert load.ok > 50 and len(load.failed) <= load.ok // 100
    assert all(problem.startswith(DROPPED) for problem in load.failed), load.failed
    # The new workers loaded the active version themselves.
    assert set(versions_by_worker(base).values()) == set(before.values())


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--bind", "8000"], {}, "Error: --bind '8000': give HOST:PORT, e.g. 127.0.0.1:8000"),
        ([], {"WEB_CONCURRENCY": "two"}, "Error: WEB_CONCURRENCY='two': give a whole number"),
        ([], {"PLD_CONFIG": "missing.py"}, "Error: missing.py: config file not found"),
    ],
)
def test_bad_settings_are_one_line_before_any_worker_starts(app, args, env, message):
    environ = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    environ.update({"PLD_CONFIG": str(app / "config.py"), **env})
    command = [str(Path(sys.executable).parent / "pld"), "granian", *args]
    done = subprocess.run(
        command, cwd=app, env=environ, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr


def test_behind_the_nginx_example_a_sighup_fails_no_request(server, tmp_path):
    """examples/deploy/nginx.conf in front: nginx tries a GET again on a new connection when
    a kept-alive one to granian closes under it, so clients see no failure."""
    base, process = server
    before = versions_by_worker(base)
    front = tmp_path / "nginx"
    front.mkdir()
    with _helpers.nginx_in_front(base, front, client_timeout=10) as proxied, Load(proxied) as load:
        time.sleep(1)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 150
        while (seen := set(reached(base, tries=5, tolerate=True))) & set(before) or len(seen) < 2:
            assert time.monotonic() < deadline, f"the workers were not replaced: {seen}"
            time.sleep(0.5)
        time.sleep(1)
    print(f"SIGHUP behind nginx: {load.ok} requests, {len(load.failed)} failed: {load.failed}")
    assert load.ok > 50 and load.failed == []
