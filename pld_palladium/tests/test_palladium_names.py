"""The ``palladium`` package: Palladium's names are pld's objects, with Palladium's calls."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pld_core
from pld_core import load_config, process_store, use_config


@pytest.fixture
def config(tmp_path: Path):
    path = tmp_path / "config.py"
    path.write_text(
        "{'model_persister': {'!': 'palladium.persistence.File', 'path': here + '/m-{version}'},"
        " 'arg2': 'from config', 'arg3': 'config wins', 'twice': ['double.times_two']}"
    )
    (tmp_path / "double.py").write_text(
        "def times_two(func):\n    return lambda *a, **kw: 2 * func(*a, **kw)\n"
    )
    loaded = load_config(str(path), __mode__="fit")
    use_config(loaded)
    yield loaded
    use_config(None)
    process_store.clear()


def test_interfaces_are_pld_s() -> None:
    from palladium import interfaces

    for name in interfaces.__all__:
        assert getattr(interfaces, name) is getattr(pld_core, name)


def test_component_classes_are_the_registered_ones() -> None:
    from palladium import cache, dataset, persistence, server
    from pld_plugins import cache as pld_cache
    from pld_plugins import dataset as pld_dataset
    from pld_plugins.persistence import database, file, rest
    from pld_plugins.predict import PredictService

    assert dataset.Table is pld_dataset.Table and dataset.CSV is pld_dataset.CSV
    assert persistence.File is file.File and persistence.Rest is rest.Rest
    assert persistence.Database is database.Database
    assert server.PredictService is PredictService
    assert cache.diskcache is pld_cache.diskcache
    with pytest.raises(AttributeError, match="OpenML"):
        dataset.OpenML  # noqa: B018
    with pytest.raises(AttributeError, match="Nope"):
        persistence.Nope  # noqa: B018


def test_importing_palladium_persistence_does_not_import_sqlalchemy() -> None:
    code = (
        "import sys, palladium.persistence, palladium.util, palladium.server\n"
        "assert 'sqlalchemy' not in sys.modules\n"
        "palladium.persistence.Database\n"
        "assert 'sqlalchemy' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_args_from_config_fills_what_a_call_leaves_out(config) -> None:
    from palladium.util import PALLADIUM_CONFIG_ERROR, args_from_config

    @args_from_config
    def func(arg1, arg2, arg3="default"):
        return arg1, arg2, arg3

    assert func(1) == (1, "from config", "config wins")
    assert func(1, arg2=2, arg3=3) == (1, 2, 3)

    @args_from_config
    def needs(missing):
        return missing

    with pytest.raises(TypeError) as raised:
        needs()
    assert PALLADIUM_CONFIG_ERROR in str(raised.value)


def test_get_and_initialize_config(config) -> None:
    from palladium.util import get_config, initialize_config

    assert get_config() is config
    with pytest.raises(RuntimeError, match="already initialized"):
        initialize_config()


def test_pluggable_decorator_reads_the_list_on_first_call(config) -> None:
    from palladium.util import PluggableDecorator

    decorated = PluggableDecorator("twice")(lambda x: x + 1)
    assert decorated(2) == 6


def test_timer_partial_apply_kwargs_memory(caplog) -> None:
    from palladium.util import Partial, apply_kwargs, memory_usage_psutil, timer

    log = logging.getLogger("palladium-test")
    with caplog.at_level(logging.INFO, "palladium-test"), timer(log.info, "Work") as info:
        pass
    assert [r.getMessage()[:8] for r in caplog.records] == ["Work...", "Work don"]
    assert info["elapsed"] >= 0
    assert Partial("builtins.int", base=2)("101") == 5
    assert apply_kwargs(lambda a, b=0: a + b, a=1, b=2, c=3) == 3
    rss, vms = memory_usage_psutil()
    assert 0 < rss <= vms


def test_rrule_thread_and_run_job() -> None:
    from palladium.util import RruleThread, run_job

    calls: list[int] = []
    thread = RruleThread(lambda: calls.append(1), {"freq": "SECONDLY"}, sleep_between_checks=0.05)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not calls and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        thread.stop()
    assert calls

    def add(a, b):
        return a + b

    worker, job_id = run_job(add, a=1, b=2)
    worker.join(30)
    job = process_store["process_metadata"]["jobs"][job_id]
    assert job["status"] == "finished" and job["func"] == "add"
    process_store.clear()


def test_make_ujson_response_and_the_lazy_app(config) -> None:
    from palladium import server

    response = server.make_ujson_response({"a": [1, 2]}, status_code=418)
    assert response.status_code == 418 and response.get_data() == b'{"a":[1,2]}'
    assert isinstance(server.app, pld_core.App)
    assert server.app is server.app
    server._app = None
