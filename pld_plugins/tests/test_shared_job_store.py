"""The shared job store on SQLite, PostgreSQL and MariaDB: records, cancel, lost runners."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from pld_core import (
    ConfigError,
    InProcessJobs,
    JobCancelled,
    cancel_job,
    job_record,
    job_records,
    load_config,
    progress_reporter,
    run_job,
)
from pld_core.process_state import ProcessStore
from pld_plugins.persistence.jobs import KEEP_ENDED, SqlJobStore, make_engine
from pld_plugins.persistence.jobs_config import FileJobs


@pytest.fixture
def jobs_url(any_store):
    yield any_store.url, f"pld_jobs_{any_store.table_postfix}"
    engine = sa.create_engine(any_store.url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS pld_jobs_{any_store.table_postfix}"))
    engine.dispose()


def _store(url_and_table) -> SqlJobStore:
    url, table = url_and_table
    return SqlJobStore(make_engine(url), table)


def test_a_job_run_by_one_process_is_seen_and_cancelled_through_another(jobs_url):
    runner, other = _store(jobs_url), _store(jobs_url)  # two engines: two workers
    started, release = threading.Event(), threading.Event()

    def work():
        report = progress_reporter()
        report(stage="Fitting model")
        started.set()
        release.wait(30)
        report(stage="Writing model")  # the cancel lands here, before anything is written
        return "written"

    thread, job_id = run_job(
        ProcessStore(), "fit", work, params={"evaluate": True}, jobs=runner, heartbeat=0.2
    )
    assert started.wait(30)
    seen = job_record(other, job_id)
    assert seen["status"] == "running" and seen["params"] == {"evaluate": True}
    assert seen["progress"] == {"stage": "Fitting model"} and seen["func"] == "fit"
    first_beat = seen["heartbeat"]
    deadline = time.monotonic() + 30
    while job_record(other, job_id)["heartbeat"] == first_beat:  # the runner keeps beating
        assert time.monotonic() < deadline
        time.sleep(0.1)

    asked = cancel_job(other, job_id)
    assert asked["cancel_requested"] is True and asked["status"] == "running"
    release.set()
    thread.join(30)
    ended = job_records(other)[job_id]
    assert ended["status"] == "cancelled" and ended["info"] == "cancelled at 'Writing model'"
    assert cancel_job(other, job_id)["status"] == "cancelled"  # an ended job stays as it is


def test_updates_are_merged_and_guarded_by_status(jobs_url):
    store = _store(jobs_url)
    store.add("a", {"status": "running", "params": {}})
    assert store.update("a", {"progress": {"done": 1}})["progress"] == {"done": 1}
    assert store.update("a", {"status": "finished"}, only_if=("running",))["status"] == "finished"
    kept = store.update("a", {"status": "lost"}, only_if=("running",))
    assert kept["status"] == "finished" and kept["progress"] == {"done": 1}
    assert store.update("nope", {"status": "lost"}) is None and store.get("nope") is None


def test_ended_jobs_are_pruned_running_ones_kept(jobs_url):
    store = _store(jobs_url)
    store.add("running", {"status": "running"})
    for n in range(KEEP_ENDED + 5):
        store.add(f"ended-{n}", {"status": "finished"})
    records = store.records()
    assert "running" in records and "ended-0" not in records
    assert sum(r["status"] == "finished" for r in records.values()) <= KEEP_ENDED + 1
    assert list(records)[-1] == f"ended-{KEEP_ENDED + 4}"  # oldest first


def test_a_job_whose_process_ended_or_stopped_beating_is_lost(tmp_path):
    store = SqlJobStore(sa.create_engine(f"sqlite:///{tmp_path / 'jobs.db'}"))
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    from pld_core.jobs import HOST

    now = datetime.now(UTC)
    store.add(
        "dead",
        {"status": "running", "host": HOST, "pid": int(ended.stdout), "heartbeat": now.isoformat()},
    )
    old = (now - timedelta(minutes=5)).isoformat()
    store.add("silent", {"status": "running", "host": "elsewhere", "pid": 1, "heartbeat": old})
    store.add(
        "fine", {"status": "running", "host": "elsewhere", "pid": 1, "heartbeat": now.isoformat()}
    )
    records = job_records(store)
    assert records["dead"]["status"] == "lost" and "has ended" in records["dead"]["info"]
    assert records["silent"]["status"] == "lost" and "has not beaten" in records["silent"]["info"]
    assert records["fine"]["status"] == "running"


def test_hook_pld_job_store(tmp_path, any_store):
    """The store each config gets: its url, the model database, an SQLite file, or none."""
    from pld_core import get_plugin_manager

    def store_for(text: str):
        path = tmp_path / "config.py"
        path.write_text(text)
        config = load_config(str(path))
        return config.plugins.hook.pld_job_store(config=config)

    base = "'model_persister': {'!': 'file', 'path': here + '/model-{version}'},"
    own = store_for("{" + base + "'jobs': {'url': 'sqlite:///' + here + '/mine.db'}}")
    assert isinstance(own, SqlJobStore) and own.where.endswith("mine.db")
    beside = store_for("{" + base + "}")
    assert isinstance(beside, FileJobs) and beside.path == str(tmp_path / "pld-jobs.sqlite")
    assert beside.records() == {} and beside.get("x") is None  # nothing made by reading
    assert not (tmp_path / "pld-jobs.sqlite").exists()
    beside.add("x", {"status": "running"})
    assert beside.update("x", {"status": "finished"})["status"] == "finished"
    assert (tmp_path / "pld-jobs.sqlite").exists() and beside.records() == {"x": beside.get("x")}
    assert isinstance(store_for("{" + base + "'jobs': {'store': 'process'}}"), InProcessJobs)
    database = store_for(
        f"{{'model_persister': {{'!': 'database', 'url': {any_store.url!r}, "
        f"'table_postfix': {any_store.table_postfix!r}}}}}"
    )
    assert database.table.name == f"pld_jobs_{any_store.table_postfix}"
    assert database.where.split("@")[-1] in any_store.url
    database.add("x", {"status": "finished"})
    assert database.get("x") == {"status": "finished"}
    with pytest.raises(ConfigError, match="unknown settings: uri"):
        store_for("{" + base + "'jobs': {'uri': 'sqlite://'}}")
    assert (
        get_plugin_manager(load_entrypoints=False).hook.pld_job_store(config=None).shared is False
    )
    if any_store.url.startswith(("postgresql", "mysql")):
        engine = sa.create_engine(any_store.url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS pld_jobs_{any_store.table_postfix}"))
        engine.dispose()


def test_a_cancelled_in_process_job_stops_at_its_next_report():
    store = ProcessStore()
    go = threading.Event()

    def work():
        go.wait(10)
        progress_reporter()(done=1)
        raise AssertionError("not reached")

    jobs = InProcessJobs(store)
    thread, job_id = run_job(store, "count", work, jobs=jobs)
    cancel_job(jobs, job_id)
    go.set()
    thread.join(10)
    record = store["process_metadata"]["jobs"][job_id]
    assert record["status"] == "cancelled" and record["cancel_requested"] is True
    with pytest.raises(JobCancelled):
        raise JobCancelled("a PldError")


def test_a_job_store_that_is_down_leaves_alive_answering(tmp_path):
    from werkzeug.test import Client

    from pld_core import create_app
    from pld_core.testing import free_port

    down = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    path = tmp_path / "config.py"
    path.write_text(
        "{'dataset_loader_train': {'!': 'table', 'path': here + '/none.csv'},"
        " 'model': {'!': 'sklearn.dummy.DummyClassifier'},"
        " 'model_persister': {'!': 'file', 'path': here + '/model-{version}'},"
        f" 'jobs': {{'url': {down!r}}},"
        " 'rules': [{'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit'}]}"
    )
    client = Client(create_app(load_config(str(path))))
    alive = client.get("/alive")
    assert alive.status_code == 200, alive.json
    assert alive.json["process_metadata"]["jobs_error"].startswith("the job store cannot be read")
    for response in (client.get("/jobs/abc"), client.delete("/jobs/abc"), client.post("/fit")):
        assert response.status_code == 503 and response.mimetype == "application/json"
        assert "the job store is not available" in response.json["metadata"]["error_message"]
        assert "127.0.0.1" not in response.json["metadata"]["error_message"]
