"""CachedUpdatePersister over a real File store: fit vs serving, reloads, failures, schedules."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime

import pytest
from dateutil import rrule

from pld_core import load_config, process_store
from pld_core.testing import contract_model, make_plugin_manager
from pld_plugins import persistence
from pld_plugins.persistence import ModelIntegrityError
from pld_plugins.persistence.cached import CachedUpdatePersister
from pld_plugins.persistence.file import File
from pld_plugins.persistence.schedule import RruleThread, make_rrule

SERVING: dict = {}
FITTING = {"__mode__": "fit"}


class CountingFile(File):
    """A real File store that records every read, to see when the cache goes to disk."""

    def __init__(self, path):
        super().__init__(path)
        self.reads: list = []

    def read(self, version=None):
        self.reads.append(version)
        return super().read(version)


@pytest.fixture(autouse=True)
def clean_process_store():
    before = set(process_store)
    yield
    for key in set(process_store) - before:
        del process_store[key]
    process_store.get("process_metadata", {}).pop("model_cache", None)


@pytest.fixture
def store(tmp_path):
    store = CountingFile(str(tmp_path / "model-{version}"))
    store.activate(store.write(contract_model(1)))
    store.reads.clear()
    return store


def cached(store, key="model_persister", **kwargs):
    persister = CachedUpdatePersister(store, **kwargs)
    persister.__pld_config_key__ = key
    return persister


def test_fit_mode_is_a_pure_pass_through(store):
    persister = cached(store)
    persister.initialize_component(FITTING)
    assert "model_persister" not in process_store and persister.thread is None
    assert store.reads == []
    second = persister.write(contract_model(2))
    assert persister.read(second).value == 2 and persister.read().value == 1
    assert store.reads == [second, None]


def test_serving_caches_the_active_model_under_the_config_key(store):
    persister = cached(store, key="my_model_persister")
    persister.initialize_component(SERVING)
    assert process_store["my_model_persister"].value == 1
    assert store.reads == [1]
    assert persister.read() is process_store["my_model_persister"]
    assert persister.read(1) is process_store["my_model_persister"]
    assert persister.read("1") is process_store["my_model_persister"]
    assert store.reads == [1]
    status = process_store["process_metadata"]["model_cache"]["my_model_persister"]
    assert status["version"] == 1 and "loaded_at" in status


def test_the_default_key_is_model_persister(store):
    persister = CachedUpdatePersister(store)
    assert persister.cache_key == "model_persister"
    persister.initialize_component(SERVING)
    assert process_store["model_persister"].value == 1


def test_reading_another_version_goes_to_the_store(store):
    second = store.write(contract_model(2))
    persister = cached(store)
    persister.initialize_component(SERVING)
    assert persister.read(second).value == 2
    assert store.reads == [1, second]
    assert process_store["model_persister"].value == 1  # the cache is untouched
    with pytest.raises(LookupError, match="No model with version 99"):
        persister.read(99)


def test_check_version_skips_reloading_an_unchanged_model(store):
    persister = cached(store)
    persister.initialize_component(SERVING)
    assert persister.update_cache() is None
    assert persister.update_cache() is None
    assert store.reads == [1]
    second = store.write(contract_model(2))
    assert persister.update_cache() is None  # written, not yet active
    store.activate(second)
    assert persister.update_cache().value == 2
    assert process_store["model_persister"].value == 2 and persister.read().value == 2
    assert store.reads == [1, second]


def test_without_check_version_every_update_reloads(store):
    persister = cached(store, check_version=False)
    persister.initialize_component(SERVING)
    first = process_store["model_persister"]
    reloaded = persister.update_cache()
    assert reloaded is not first and reloaded.value == 1
    assert store.reads == [None, None]


def test_update_cache_can_load_a_given_version(store):
    second = store.write(contract_model(2))
    persister = cached(store)
    persister.initialize_component(SERVING)
    assert persister.update_cache(second).value == 2
    assert persister.read().value == 2 and persister.read(second).value == 2
    assert persister.update_cache().value == 1  # back to the active one


def test_a_failed_load_keeps_serving_the_old_model(store, caplog):
    persister = cached(store)
    persister.initialize_component(SERVING)
    old = process_store["model_persister"]
    second = store.write(contract_model(2))
    os.replace(store.model_path(1), store.model_path(second))  # corrupt version 2
    store.activate(second)
    with pytest.raises(ModelIntegrityError):
        persister.update_cache()
    assert process_store["model_persister"] is old and persister.read() is old
    status = process_store["process_metadata"]["model_cache"]["model_persister"]
    assert status["version"] == 1
    assert status["last_error"].startswith("ModelIntegrityError: model version 2 in CountingFile(")
    assert "last_error_at" in status
    assert "keeping the old one" in caplog.text


def test_deleting_the_active_model_keeps_the_cached_one(store):
    persister = cached(store)
    persister.initialize_component(SERVING)
    store.write(contract_model(2))
    store.delete(1)
    with pytest.raises(LookupError, match="No active model"):
        persister.update_cache()
    assert persister.read().value == 1


def test_serving_starts_without_an_active_model(tmp_path, caplog):
    store = CountingFile(str(tmp_path / "model-{version}"))
    persister = cached(store)
    persister.initialize_component(SERVING)
    assert "no model to serve yet" in caplog.text
    with pytest.raises(LookupError, match="No model loaded into the cache 'model_persister'"):
        persister.read()
    store.activate(store.write(contract_model(5)))
    assert persister.update_cache().value == 5
    assert persister.read().value == 5


def test_update_model_decorators_wrap_update_cache(store):
    calls = []

    def record(func):
        def wrapper(*args, **kwargs):
            calls.append(args)
            return func(*args, **kwargs)

        return wrapper

    persister = cached(store)
    persister.initialize_component({"update_model_decorators": [record]})
    persister.update_cache()
    assert calls == [(None,), (None,)]


def test_the_other_methods_pass_through(store):
    persister = cached(store)
    persister.initialize_component(SERVING)
    version = persister.write(contract_model(3))
    persister.activate(version)
    assert store.list_properties()["active-model"] == str(version)
    assert persister.list_models() == store.list_models()
    assert persister.list_properties() == store.list_properties()
    persister.delete(1)
    assert [entry["version"] for entry in store.list_models()] == [version]
    persister.upgrade(to_version="1.0")
    assert store.list_properties()["db-version"] == "1.0"


def test_the_schedule_reloads_and_stops(store):
    persister = cached(store, update_cache_rrule={"freq": "SECONDLY"})
    persister.initialize_component(SERVING)
    thread = persister.thread
    assert thread is not None and thread.daemon and thread.is_alive()
    store.activate(store.write(contract_model(2)))
    deadline = time.monotonic() + 10
    while process_store["model_persister"].value != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_store["model_persister"].value == 2
    persister.stop()
    assert not thread.is_alive() and persister.thread is None


def test_fit_mode_starts_no_schedule(store):
    persister = cached(store, update_cache_rrule={"freq": "SECONDLY"})
    persister.initialize_component(FITTING)
    assert persister.thread is None


# -- rrules -----------------------------------------------------------------------------------


def test_rrule_dicts_name_constants_and_parse_dates():
    rule = make_rrule(
        {"freq": "WEEKLY", "byweekday": ["MO", "fr"], "byhour": 3, "dtstart": "2024-01-01 03:00"}
    )
    assert rule.after(datetime(2024, 1, 1, 3, 0)) == datetime(2024, 1, 5, 3, 0)
    assert rule.after(datetime(2024, 1, 5, 3, 0)) == datetime(2024, 1, 8, 3, 0)
    hourly = make_rrule(
        {"freq": "hourly", "dtstart": "2024-01-01T00:30", "until": "2024-01-01T02:30"}
    )
    assert list(hourly) == [datetime(2024, 1, 1, h, 30) for h in range(3)]
    assert make_rrule({"freq": rrule.DAILY, "count": 1, "dtstart": datetime(2024, 1, 1)})[0] == (
        datetime(2024, 1, 1)
    )
    existing = rrule.rrule(rrule.DAILY)
    assert make_rrule(existing) is existing


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"freq": "FORTNIGHTLY"}, "unknown rrule freq 'FORTNIGHTLY'"),
        ({"interval": 2}, "needs a 'freq'"),
        ({"freq": "DAILY", "bogus": 1}, "invalid rrule"),
        ("HOURLY", "must be a dict"),
    ],
)
def test_bad_rrules_are_refused(spec, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make_rrule(spec)
    with pytest.raises((ValueError, TypeError), match=message):
        CachedUpdatePersister(File("m-{version}"), update_cache_rrule=spec)


def test_rrule_thread_survives_a_failing_call(caplog):
    calls = []
    twice = threading.Event()

    def flaky():
        calls.append(1)
        if len(calls) >= 2:
            twice.set()
        raise RuntimeError("boom")

    thread = RruleThread(flaky, {"freq": "SECONDLY"}, max_sleep=0.2)
    thread.start()
    try:
        assert twice.wait(10)
    finally:
        thread.stop()
    assert not thread.is_alive()
    assert "scheduled call of flaky failed" in caplog.text


def test_rrule_thread_ends_when_the_rule_has_no_more_occurrences():
    calls = []
    thread = RruleThread(lambda: calls.append(1), {"freq": "SECONDLY", "count": 1})
    thread.start()
    thread.join(5)
    assert not thread.is_alive() and len(calls) <= 1


# -- through the config loader ----------------------------------------------------------------

CONFIG = """{
    'model_persister': {
        '__factory__': 'palladium.persistence.CachedUpdatePersister',
        'impl': {'__factory__': 'palladium.persistence.File', 'path': %r},
    },
}"""


def test_a_palladium_config_builds_and_fills_the_cache(store, tmp_path):
    config_path = tmp_path / "config.py"
    config_path.write_text(CONFIG % store.path)
    pm = make_plugin_manager([persistence])
    config = load_config(str(config_path), plugins=pm)
    persister = config["model_persister"]
    assert isinstance(persister, CachedUpdatePersister) and isinstance(persister.impl, File)
    assert persister.cache_key == "model_persister"
    assert process_store["model_persister"].value == 1
    assert persister.read() is process_store["model_persister"]

    del process_store["model_persister"]
    fit_config = load_config(str(config_path), plugins=pm, __mode__="fit")
    assert "model_persister" not in process_store
    assert fit_config["model_persister"].read().value == 1
