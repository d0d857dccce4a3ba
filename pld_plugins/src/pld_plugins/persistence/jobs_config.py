"""Which job store a config gets (the ``pld_job_store`` hook's answer), without SQLAlchemy.

The ``jobs`` entry's ``url`` when the config has one; else the model store's own database when
the store is a ``database`` persister (its engine, a ``pld_jobs`` table beside the model
tables); else an SQLite file ``pld-jobs.sqlite`` beside the first config file, made when the
first job starts (until then ``/alive`` reads nothing and imports nothing).
``jobs: {'store': 'process'}`` keeps the records in each worker, as Palladium did. The
entry may also name a dask cluster to run the jobs on (``pld_plugins.dask_jobs`` reads it).
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from pld_core import Config, ConfigError, JobStore
from pld_plugins.dask_cluster import CLUSTER_KEYS, OPTION_KEYS

__all__ = ["FileJobs", "job_store_for"]

DEFAULT_FILE = "pld-jobs.sqlite"
STORE_SETTINGS = {"url", "store", "table"}
_DATABASE_MODULE = "pld_plugins.persistence.database"

_stores: dict[str, JobStore] = {}
_stores_lock = threading.Lock()


def job_store_for(config: Config) -> JobStore | None:
    """The shared job store ``config`` asks for, or ``None`` for one in each process."""
    settings = config.get("jobs") or {}
    if not isinstance(settings, dict):
        raise config.error(
            f"'jobs' must be a dict such as {{'url': ...}}, not {settings!r}", "jobs"
        )
    unknown = set(settings) - STORE_SETTINGS - set(CLUSTER_KEYS) - set(OPTION_KEYS)
    if unknown:
        raise config.error(f"'jobs' has unknown settings: {', '.join(sorted(unknown))}", "jobs")
    if settings.get("store") == "process":
        return None
    table = str(settings.get("table") or "pld_jobs")
    url = settings.get("url")
    if url:
        return _cached(f"{url}|{table}", lambda: _sql_store(_sql().make_engine(str(url)), table))
    database = _model_database(config)
    if database is not None:
        name = database.table_name(table)
        return _cached(f"{id(database.engine)}|{name}", lambda: _sql_store(database.engine, name))
    if not config.files:
        return None
    path = os.path.join(os.path.dirname(os.path.abspath(config.files[0])), DEFAULT_FILE)
    return _cached(f"{path}|{table}", lambda: FileJobs(path, table))


class FileJobs(JobStore):
    """The default: an SQLite file every worker of this machine shares, made on first use."""

    shared = True

    def __init__(self, path: str, table: str = "pld_jobs") -> None:
        self.path = path
        self.table = table
        self._store: JobStore | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileJobs({self.path!r})"

    def _open(self, create: bool) -> JobStore | None:
        with self._lock:
            if self._store is None and (create or os.path.exists(self.path)):
                engine = _sql().make_engine("sqlite:///" + self.path)
                self._store = _sql_store(engine, self.table)
            return self._store

    def add(self, job_id: str, record: dict[str, Any]) -> None:
        store = self._open(create=True)
        assert store is not None
        store.add(job_id, record)

    def update(
        self, job_id: str, changes: dict[str, Any], only_if: Iterable[str] | None = None
    ) -> dict[str, Any] | None:
        store = self._open(create=False)
        return store.update(job_id, changes, only_if) if store is not None else None

    def get(self, job_id: str) -> dict[str, Any] | None:
        store = self._open(create=False)
        return store.get(job_id) if store is not None else None

    def records(self) -> dict[str, dict[str, Any]]:
        store = self._open(create=False)
        return store.records() if store is not None else {}


def _cached(key: str, make: Callable[[], JobStore]) -> JobStore:
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = make()
        return store


def _sql() -> Any:
    """The SQLAlchemy job store module, imported when a database is first needed."""
    return importlib.import_module("pld_plugins.persistence.jobs")


def _sql_store(engine: Any, table: str) -> JobStore:
    store: JobStore = _sql().SqlJobStore(engine, table)
    return store


def _model_database(config: Config) -> Any:
    """The ``database`` persister behind ``model_persister`` (unwrapping ``cached-update``)."""
    database_module = sys.modules.get(_DATABASE_MODULE)
    if database_module is None or "model_persister" not in config:
        return None  # not imported: no store of this config is a database persister
    try:
        persister = config["model_persister"]
    except ConfigError:
        return None
    for _ in range(5):
        if isinstance(persister, database_module.Database):
            return persister
        persister = getattr(persister, "impl", None)
    return None
