"""The gunicorn fork hooks: the cache's refresh schedule leaves the master, restarts in workers."""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

from pld_core import load_config, process_store
from pld_plugins.deploy import gunicorn_conf
from pld_plugins.deploy.gunicorn_hooks import caching_components, post_fork, pre_fork

REPO = Path(__file__).resolve().parents[2]
CONFIG = """{
    'model_persister': {
        '!': 'cached-update', 'update_cache_rrule': {'freq': 'SECONDLY', 'interval': 1},
        'impl': {'!': 'file', 'path': here + '/model-{version}'},
    },
    'more': [
        {'nested': {'!': 'cached-update', 'impl': {'!': 'file', 'path': here + '/m-{version}'}}},
    ],
}"""


class Log:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def exception(self, message: str, *args: object) -> None:
        self.errors.append(message % args)


@pytest.fixture
def served(tmp_path):
    """A config loaded for serving (no model stored: the caches start empty)."""
    path = tmp_path / "config.py"
    path.write_text(CONFIG)
    process_store.clear()
    process_store["process_metadata"] = {}
    config = load_config(str(path))
    yield config
    for component in caching_components(config):
        component.stop()
    process_store.clear()
    process_store["process_metadata"] = {}


def server(config: object) -> SimpleNamespace:
    return SimpleNamespace(app=SimpleNamespace(callable=SimpleNamespace(config=config)), log=Log())


def test_caching_components_are_found_once_also_when_nested(served):
    found = caching_components(served)
    assert found == [served["model_persister"], served["more"][0]["nested"]]
    assert caching_components({"a": found, "b": found}) == found


def test_pre_fork_stops_the_schedule_and_post_fork_restarts_it(served):
    persister = served["model_persister"]
    master_thread = persister.thread
    assert master_thread is not None and master_thread.is_alive()
    preloaded = server(served)

    pre_fork(preloaded, None)
    assert persister.thread is None and not master_thread.is_alive()

    post_fork(preloaded, None)
    assert persister.thread is not None and persister.thread.is_alive()
    assert persister.thread is not master_thread
    assert process_store["process_metadata"]["worker"]["pid"] == os.getpid()
    assert preloaded.log.errors == []


def test_without_preload_the_hooks_only_note_the_worker(served):
    persister = served["model_persister"]
    thread = persister.thread
    not_preloaded = SimpleNamespace(app=SimpleNamespace(callable=None), log=Log())
    pre_fork(not_preloaded, None)
    post_fork(not_preloaded, None)
    assert persister.thread is thread and thread.is_alive()
    assert process_store["process_metadata"]["worker"]["pid"] == os.getpid()


def test_a_failing_restart_is_logged_not_raised(served, monkeypatch):
    def fail(config: object) -> None:
        raise OSError("store unreachable")

    monkeypatch.setattr(served["model_persister"], "initialize_component", fail)
    preloaded = server(served)
    post_fork(preloaded, None)
    assert len(preloaded.log.errors) == 1 and "could not restart" in preloaded.log.errors[0]


def test_the_example_conf_and_the_image_conf_agree():
    example = runpy.run_path(str(REPO / "examples" / "deploy" / "gunicorn.conf.py"))
    names = ("workers", "worker_class", "threads", "preload_app", "timeout", "graceful_timeout")
    for name in (*names, "keepalive"):
        assert example[name] == getattr(gunicorn_conf, name), name
    assert example["preload_app"] is True
    # A slow client holds a thread, not a worker: the image has no buffering proxy in front.
    assert example["worker_class"] == "gthread" and example["threads"] > 1
    assert example["pre_fork"] is pre_fork and example["post_fork"] is post_fork
