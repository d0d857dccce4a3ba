"""Jobs on a dask cluster: ``'jobs': {'scheduler': ...}`` sends /fit and /grid-search there.

A real ``LocalCluster`` (one worker process with one thread, on 127.0.0.1) started here, its
scheduler's address in the config, and real gunicorn and ``pld serve`` processes taking the
requests. One thread: a grid search that runs there as a job and sends its fits there too
must give its thread back (joblib's dask backend does), or wait for it forever. The job store
is the SQLite file beside the config (and PostgreSQL in one test), read by the web workers and
the dask workers alike.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pld_core.testing import free_port, http_json, running_server
from pld_plugins.persistence.jobs_config import FileJobs

distributed = pytest.importorskip("distributed", reason="needs dask.distributed")
psutil = pytest.importorskip("psutil", reason="needs psutil")
pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPTS = Path(sys.executable).parent
POSTGRES = os.environ.get(
    "PLD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# A fit of a few CPU seconds (two classes, one tree per round), the same on every run.
SLOW_MODEL = (
    "'!': 'sklearn.ensemble.GradientBoostingClassifier', 'n_estimators': 2000, 'random_state': 0"
)
RULES = """
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/grid-search', 'view_func': 'grid-search',
         'methods': ['POST']},
    ],"""


def write_config(folder: Path, extra: str, base: str) -> Path:
    """The iris config (its test's slow model) in ``folder`` with ``extra`` entries."""
    text = base.replace("'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3", SLOW_MODEL)
    assert SLOW_MODEL in text
    path = folder / "config.py"
    path.write_text(text.rstrip()[:-1] + RULES + extra + "\n}")
    return path


def server_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = str(config)
    return env


def gunicorn(port: int, workers: int) -> list[str]:
    return [
        str(SCRIPTS / "gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "pld_core.wsgi:app",
    ]


def server_processes(port: int) -> list[Any]:
    """The server this test started on ``port`` and its children (gunicorn's workers)."""
    [server] = [p for p in psutil.Process().children() if str(port) in " ".join(p.cmdline())]
    return [server, *server.children()]


def cpu_seconds(processes: list[Any]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def job(base: str, job_id: str) -> dict[str, Any]:
    status, record = http_json(f"{base}/jobs/{job_id}")
    assert status == 200, record
    return record


def wait(
    base: str, job_id: str, until: Callable[[dict], bool], timeout: float = 120, every=0.1
) -> dict:
    deadline = time.monotonic() + timeout
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        record = job(base, job_id)
        if until(record):
            return record
        time.sleep(every)
    raise AssertionError(f"job {job_id} never got there: {record}")


def answering(base: str, timeout: float = 120) -> None:
    """Wait until the server answers again (a new gunicorn worker is up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            http_json(f"{base}/alive", timeout=timeout)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def ended(record: dict) -> bool:
    return record["status"] != "running"


def delete(url: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, method="DELETE")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One dask worker process with one thread, and its scheduler, on 127.0.0.1."""
    with distributed.LocalCluster(
        n_workers=1,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as local_cluster:
        yield local_cluster


def workers(cluster: Any) -> set[str]:
    return set(cluster.scheduler_info["workers"])


@pytest.fixture(scope="module")
def served(cluster, tmp_path_factory, iris_config_text) -> Iterator[tuple[str, Path, int]]:
    """gunicorn (2 workers) whose jobs run on ``cluster``; the store starts empty."""
    folder = tmp_path_factory.mktemp("served")
    search = (
        "{'param_grid': {'n_estimators': [5, 10]}, 'cv': 3, "
        f"'backend': {{'scheduler': {cluster.scheduler_address!r}}}}}"
    )
    extra = f"""
    'jobs': {{'scheduler': {cluster.scheduler_address!r}}},
    'grid_search': {search},"""
    config = write_config(folder, extra, iris_config_text)
    port = free_port()
    with running_server(gunicorn(port, 2), port, cwd=folder, env=server_env(config)) as base:
        yield base, folder, port


def test_fit_runs_on_the_cluster_and_matches_pld_fit(served, cluster, tmp_path, iris_config_text):
    base, folder, port = served
    web = server_processes(port)
    status, started = http_json(f"{base}/fit", form=b"evaluate=true")
    assert status == 200, started
    job_id = started["job_id"]
    web_before = cpu_seconds(web)
    # Read the record where the web workers keep it, so that polling costs them nothing.
    store = FileJobs(str(folder / "pld-jobs.sqlite"))
    stages, runner, runner_before = [], None, 0.0
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        record = store.get(job_id)
        stage = record.get("progress", {}).get("stage")
        if stage and stage not in stages:
            stages.append(stage)
        if runner is None and record.get("worker"):
            runner = psutil.Process(record["pid"])
            runner_before = cpu_seconds([runner])
        if ended(record):
            break
        time.sleep(0.1)
    web_during = cpu_seconds(web) - web_before
    runner_during = cpu_seconds([runner]) - runner_before if runner is not None else 0.0
    print(
        f"web server (gunicorn, 2 workers) CPU while the job ran on the cluster: "
        f"{web_during:.3f} s; the dask worker's: {runner_during:.3f} s"
    )
    assert record["status"] == "finished", record
    assert record["worker"] in workers(cluster)
    assert record["scheduler"] == cluster.scheduler_address
    assert record["pid"] not in {p.pid for p in web}
    order = ["Waiting for a dask worker", "Loading data", "Fitting model", "Loading test data"]
    order.append("Writing model")
    assert stages == [stage for stage in order if stage in stages]  # seen in this order
    assert "Fitting model" in stages  # the fit's progress reached the record while it ran
    assert record["progress"] == {"stage": "Writing model"}
    assert runner_during > 1.0  # the fit's CPU is the worker's...
    assert web_during < 0.25  # ...and the web server's stays near idle
    assert job(base, job_id) == {"job_id": job_id, **record}

    other = tmp_path / "cli"
    other.mkdir()
    write_config(other, "", iris_config_text)
    fitted = subprocess.run(
        [str(SCRIPTS / "pld"), "fit", "--evaluate"],
        cwd=other,
        env=server_env(other / "config.py"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert fitted.returncode == 0, fitted.stderr
    info = record["info"]
    printed = [f"{name}: {value:.6f}" for name, value in info["scores"].items()]
    assert fitted.stdout.splitlines() == [
        *printed,
        f"Wrote model with version {info['version']}.",
        f"Activated model with version {info['version']}.",
    ]
    assert (info["version"], info["activated"]) == (1, True)
    status, listing = http_json(f"{base}/list")
    assert listing["properties"]["active-model"] == "1"
    [model] = listing["models"]
    assert model["version"] == 1 and model["fit_seconds"] > 0


def test_grid_search_over_http_runs_on_the_cluster(served, cluster):
    base, _folder, _port = served
    versions = len(http_json(f"{base}/list")[1]["models"])
    status, started = http_json(f"{base}/grid-search", {"persist_best": True})
    assert status == 200, started
    record = wait(base, started["job_id"], ended, every=0.3)
    assert record["status"] == "finished", record
    assert record["func"] == "grid-search" and record["worker"] in workers(cluster)
    assert record["progress"] == {"stage": "Writing model", "done": 6, "total": 6}
    info = record["info"]
    assert info["n_candidates"] == 2 and info["best_params"]["n_estimators"] in (5, 10)
    assert (info["version"], info["activated"]) == (versions + 1, True)
    listing = http_json(f"{base}/list")[1]
    assert listing["properties"]["active-model"] == str(versions + 1)


def test_cancel_stops_a_job_on_the_cluster_before_it_persists(served, cluster):
    base, _folder, _port = served
    versions = len(http_json(f"{base}/list")[1]["models"])
    status, started = http_json(f"{base}/fit", form=b"evaluate=true")
    job_id = started["job_id"]
    running = wait(base, job_id, lambda r: r.get("progress", {}).get("stage") == "Fitting model")
    assert running["worker"] in workers(cluster)
    status, asked = delete(f"{base}/jobs/{job_id}")
    assert status == 200 and asked["cancel_requested"] is True
    record = wait(base, job_id, ended)
    assert record["status"] == "cancelled", record
    assert record["info"] == "cancelled at 'Loading test data'"
    assert len(http_json(f"{base}/list")[1]["models"]) == versions  # nothing was written
    assert delete(f"{base}/jobs/{job_id}")[0] == 409


def test_a_killed_dask_worker_makes_its_job_lost(served, cluster):
    base, _folder, _port = served
    versions = len(http_json(f"{base}/list")[1]["models"])
    status, started = http_json(f"{base}/fit", form=b"")
    job_id = started["job_id"]
    running = wait(base, job_id, lambda r: r.get("progress", {}).get("stage") == "Fitting model")
    os.kill(running["pid"], signal.SIGKILL)
    killed = time.monotonic()
    record = wait(base, job_id, ended, timeout=60)
    print(f"dask worker killed: job reported lost after {time.monotonic() - killed:.2f} s")
    assert record["status"] == "lost", record
    assert (
        f"process {running['pid']}" in record["info"]  # a reader saw the process gone
        or f"its dask worker {running['worker']} ended" in record["info"]  # dask ran it again
    ), record["info"]
    time.sleep(2)  # a run the scheduler started again has had time to fit, and must not
    assert job(base, job_id)["status"] == "lost"
    assert len(http_json(f"{base}/list")[1]["models"]) == versions


@pytest.fixture
def idle_scheduler() -> Iterator[Any]:
    """A scheduler without workers: a job submitted there waits."""
    with distributed.LocalCluster(
        n_workers=0, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as local_cluster:
        yield local_cluster


def test_a_waiting_job_is_watched_by_its_web_worker(idle_scheduler, tmp_path, iris_config_text):
    address = idle_scheduler.scheduler_address
    config = write_config(
        tmp_path, f"\n    'jobs': {{'scheduler': {address!r}}},", iris_config_text
    )
    port = free_port()
    with running_server(gunicorn(port, 1), port, cwd=tmp_path, env=server_env(config)) as base:
        [web_worker] = server_processes(port)[1:]
        status, started = http_json(f"{base}/fit", form=b"")
        job_id = started["job_id"]
        first = job(base, job_id)
        assert first["progress"] == {"stage": "Waiting for a dask worker"}
        assert (first["scheduler"], first["pid"]) == (address, web_worker.pid)
        assert "worker" not in first
        later = wait(base, job_id, lambda r: r["heartbeat"] != first["heartbeat"], timeout=10)
        assert later["status"] == "running"  # its web worker beats for it while it waits
        assert len(idle_scheduler.scheduler.tasks) == 1

        status, asked = delete(f"{base}/jobs/{job_id}")
        assert status == 200
        record = wait(base, job_id, ended, timeout=10)
        assert record["status"] == "cancelled"
        assert record["info"] == "cancelled at 'Waiting for a dask worker'"
        deadline = time.monotonic() + 10
        while idle_scheduler.scheduler.tasks and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not idle_scheduler.scheduler.tasks  # the scheduler dropped it

        status, started = http_json(f"{base}/fit", form=b"")
        waiting = job(base, started["job_id"])
        os.kill(waiting["pid"], signal.SIGKILL)  # the web worker that watches it
        answering(base)  # gunicorn has started another one
        record = wait(base, started["job_id"], ended, timeout=60)
        assert record["status"] == "lost"
        assert f"process {waiting['pid']}" in record["info"], record


def test_an_unreachable_scheduler_is_a_503_and_starts_nothing(tmp_path, iris_config_text):
    port = free_port()
    entry = f"{{'scheduler': 'tcp://127.0.0.1:{port}', 'connect_timeout': '1s'}}"
    config = write_config(tmp_path, f"\n    'jobs': {entry},", iris_config_text)
    serve_port = free_port()
    command = [str(SCRIPTS / "pld"), "serve", "--port", str(serve_port)]
    with running_server(command, serve_port, cwd=tmp_path, env=server_env(config)) as base:
        status, answer = http_json(f"{base}/fit", form=b"")
        assert status == 503
        assert answer["metadata"]["error_message"] == (
            f"cannot reach the dask scheduler tcp://127.0.0.1:{port} (within 1s): "
            f"Timed out trying to connect to tcp://127.0.0.1:{port} after 1 s"
        )
        assert http_json(f"{base}/alive")[1]["process_metadata"].get("jobs", {}) == {}


def test_a_worker_that_cannot_load_the_config_ends_the_job_as_an_error(
    cluster, tmp_path, iris_config_text
):
    """The config reads a variable only the web server has: the dask worker cannot load it."""
    assert "PLD_TEST_WEB_ONLY" not in os.environ  # nor the cluster's workers, started here
    extra = f"""
    'jobs': {{'scheduler': {cluster.scheduler_address!r}}},
    'web_only': environ['PLD_TEST_WEB_ONLY'],"""
    config = write_config(tmp_path, extra, iris_config_text)
    port = free_port()
    command = [str(SCRIPTS / "pld"), "serve", "--port", str(port)]
    env = {**server_env(config), "PLD_TEST_WEB_ONLY": "here"}
    with running_server(command, port, cwd=tmp_path, env=env) as base:
        status, started = http_json(f"{base}/fit", form=b"")
        assert status == 200, started
        record = wait(base, started["job_id"], ended, timeout=60)
    assert record["status"] == "error", record
    assert "worker" not in record  # it never started
    assert record["info"].startswith("ConfigError: ") and "PLD_TEST_WEB_ONLY" in record["info"]


def test_a_local_cluster_runs_its_job_and_stops_with_it(tmp_path, iris_config_text):
    entry = "{'local_cluster': {'n_workers': 1, 'threads_per_worker': 1}}"
    config = write_config(tmp_path, f"\n    'jobs': {entry},", iris_config_text)
    port = free_port()
    command = [str(SCRIPTS / "pld"), "serve", "--port", str(port)]
    with running_server(command, port, cwd=tmp_path, env=server_env(config)) as base:
        [served] = server_processes(port)[:1]
        status, started = http_json(f"{base}/fit", form=b"persist=false", timeout=120)
        assert status == 200, started
        record = wait(base, started["job_id"], ended, timeout=240, every=0.5)
        assert record["status"] == "finished", record
        assert record["worker"].startswith("tcp://127.0.0.1:")
        assert record["scheduler"].startswith("tcp://127.0.0.1:")
        assert record["pid"] != served.pid and record["info"]["version"] is None
        deadline = time.monotonic() + 60  # the cluster closes once its job has ended
        while psutil.pid_exists(record["pid"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not psutil.pid_exists(record["pid"])


def test_a_postgresql_job_store_is_shared_with_the_workers(cluster, tmp_path, iris_config_text):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    table = "pld_jobs_dask_" + uuid.uuid4().hex[:8]
    entry = (
        f"{{'scheduler': {cluster.scheduler_address!r}, 'url': {POSTGRES!r}, 'table': {table!r}}}"
    )
    config = write_config(tmp_path, f"\n    'jobs': {entry},", iris_config_text)
    port = free_port()
    command = [str(SCRIPTS / "pld"), "serve", "--port", str(port)]
    try:
        with running_server(command, port, cwd=tmp_path, env=server_env(config)) as base:
            status, started = http_json(f"{base}/fit", form=b"persist=false")
            assert status == 200, started
            record = wait(base, started["job_id"], ended)
            assert record["status"] == "finished" and record["worker"] in workers(cluster)
            assert record["info"]["version"] is None
        assert not (tmp_path / "pld-jobs.sqlite").exists()
    finally:
        engine = sqlalchemy.create_engine(POSTGRES)
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_hook_pld_run_job(tmp_path, iris_config_text):
    """The kernel runs a task endpoint's job in a thread; a cluster entry goes to pld-plugins."""
    from pld_core import ConfigError, hookimpl, load_config
    from pld_core.registry import collect_tasks

    class Audit:  # the docs' wrapper: it sees every start
        started: list[tuple[str, str]] = []

        @hookimpl(wrapper=True)
        def pld_run_job(self, config, task, options, jobs):
            job_id = yield
            self.started.append((job_id, task.name))
            return job_id

    config = load_config(str(write_config(tmp_path, "", iris_config_text)))
    config.plugins.register(Audit(), name="audit")
    jobs = config.plugins.hook.pld_job_store(config=config)
    task = collect_tasks(config.plugins)["rollback"]
    job_id = config.plugins.hook.pld_run_job(config=config, task=task, options={}, jobs=jobs)
    assert Audit.started == [(job_id, "rollback")]
    record = wait_in(jobs, job_id)
    assert (record["func"], record["pid"], record["thread"]) == (
        "rollback",
        os.getpid(),
        "pld-job-rollback",
    )
    assert "worker" not in record and "scheduler" not in record

    bad = write_config(tmp_path, "\n    'jobs': {'scheduler': 8786},", iris_config_text)
    config = load_config(str(bad))
    with pytest.raises(ConfigError, match=r"config\.py: jobs: 'scheduler' must be an address"):
        config.plugins.hook.pld_run_job(config=config, task=task, options={}, jobs=jobs)
    entry = "{'scheduler': '127.0.0.1:8786', 'store': 'process'}"
    config = load_config(str(write_config(tmp_path, f"\n    'jobs': {entry},", iris_config_text)))
    alone = config.plugins.hook.pld_job_store(config=config)
    with pytest.raises(ConfigError, match="need a job store the workers share, not InProcess"):
        config.plugins.hook.pld_run_job(config=config, task=task, options={}, jobs=alone)


def wait_in(jobs: Any, job_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = jobs.get(job_id)
        if record["status"] != "running":
            return record
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running")
