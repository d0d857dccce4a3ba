"""ScheduledDatasetLoader keeps data in memory and survives failed reloads; disk caches."""

from __future__ import annotations

import time

import pytest

from pld_core import Config, decorate, process_store
from pld_plugins.cache import compute_key_attrs, diskcache, picklediskcache
from pld_plugins.scheduled_dataset import ScheduledDatasetLoader


class Counting:
    """A loader that counts its calls and can be told to fail."""

    def __init__(self, sql: str = "SELECT 1") -> None:
        self.sql = sql
        self.calls = 0
        self.fail = False

    def __call__(self):
        self.calls += 1
        if self.fail:
            raise ConnectionError("database is down")
        return [[self.calls]], [self.calls]


@pytest.fixture(autouse=True)
def clean_store():
    process_store.clear()
    yield
    process_store.clear()


def serving(loader, key="data"):
    loader.__pld_config_key__ = key
    loader.initialize_component(Config({}))
    return loader


def test_fit_mode_passes_through():
    impl = Counting()
    loader = ScheduledDatasetLoader(impl, {"freq": "HOURLY"})
    loader.initialize_component(Config({"__mode__": "fit"}))
    assert loader() == ([[1]], [1]) and loader() == ([[2]], [2])
    assert loader.thread is None and "data" not in process_store


def test_serving_answers_from_memory_and_keeps_old_data_when_a_reload_fails():
    impl = Counting()
    loader = serving(ScheduledDatasetLoader(impl, {"freq": "HOURLY"}), key="lookup")
    try:
        assert loader() == ([[1]], [1]) and loader() == ([[1]], [1])
        assert impl.calls == 1 and process_store["lookup"] == ([[1]], [1])
        impl.fail = True
        with pytest.raises(ConnectionError):
            loader.update_cache()
        assert loader() == ([[1]], [1])
        status = process_store["process_metadata"]["data_cache"]["lookup"]
        assert status["last_error"] == "ConnectionError: database is down"
        impl.fail = False
        assert loader.update_cache() == ([[3]], [3])
        assert loader() == ([[3]], [3])
    finally:
        loader.stop()


def test_the_schedule_reloads():
    impl = Counting()
    loader = serving(ScheduledDatasetLoader(impl, {"freq": "SECONDLY", "interval": 1}))
    try:
        deadline = time.monotonic() + 10
        while impl.calls < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert impl.calls >= 3
        assert loader()[1] == [impl.calls] or loader()[1] == [impl.calls - 1]
    finally:
        loader.stop()


@pytest.mark.parametrize("cache_class", [diskcache, picklediskcache])
def test_disk_cache_as_a_load_data_decorator(cache_class, tmp_path):
    template = str(tmp_path / "cache-{key}.pickle")
    config = Config(
        {
            "load_data_decorators": [
                cache_class(filename_tmpl=template, compute_key=compute_key_attrs(["sql"]))
            ]
        }
    )

    def load(loader):
        return loader()

    cached_load = decorate(load, config, "load_data_decorators")
    first, same_sql, other_sql = Counting("SELECT a"), Counting("SELECT a"), Counting("SELECT b")
    assert cached_load(first) == ([[1]], [1])
    assert cached_load(same_sql) == ([[1]], [1]) and same_sql.calls == 0  # from the file
    assert cached_load(other_sql) == ([[1]], [1]) and other_sql.calls == 1
    assert len(list(tmp_path.glob("cache-*.pickle"))) == 2
    assert not list(tmp_path.glob("*.tmp-*"))


def test_default_key_uses_settings_not_identity(tmp_path):
    cache = diskcache(filename_tmpl=str(tmp_path / "c-{key}"))
    load = cache(lambda loader: loader())
    assert load(Counting("q")) == ([[1]], [1])
    twin = Counting("q")
    assert load(twin) == ([[1]], [1]) and twin.calls == 0
    assert cache.path_for(load, ("x",)) != cache.path_for(load, ("y",))


def test_ignore_and_template_check(tmp_path):
    load = diskcache(filename_tmpl=str(tmp_path / "c-{key}"), ignore=True)(lambda lo: lo())
    loader = Counting()
    load(loader)
    load(loader)
    assert loader.calls == 2
    with pytest.raises(ValueError, match=r"\{key\} placeholder"):
        diskcache(filename_tmpl=str(tmp_path / "no-key"))
