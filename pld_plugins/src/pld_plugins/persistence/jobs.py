"""Job records in a database every worker shares (``jobs_config`` picks which).

One row per job: its id, its status (so the running ones are found without reading every
record) and the JSON record. Each change is one transaction that reads the row under a lock
(``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE`` elsewhere), merges and writes it back, so a
heartbeat, a cancel and the job's end never overwrite one another.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pld_core import ConfigError, JobStore
from pld_plugins.persistence.database import _make_engine

__all__ = ["SqlJobStore", "make_engine"]

#: Ended jobs kept; older ones are removed when a job is added.
KEEP_ENDED = 100
ENDED_JOB_STATES = ("finished", "error", "cancelled", "lost")


class SqlJobStore(JobStore):
    """Job records in table ``table`` of ``engine``'s database, shared by every process."""

    shared = True

    def __init__(self, engine: Engine, table: str = "pld_jobs") -> None:
        self.engine = engine
        self.where = engine.url.render_as_string(hide_password=True)
        metadata = sa.MetaData()
        self.table = sa.Table(
            table,
            metadata,
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("seq", sa.Integer, nullable=False, index=True),
            sa.Column("status", sa.String(32), nullable=False, index=True),
            sa.Column("record", sa.Text, nullable=False),
        )
        self._metadata = metadata
        self._ready = threading.Event()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqlJobStore({self.where!r}, table={self.table.name!r})"

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        if not self._ready.is_set():
            with self._lock:
                self._metadata.create_all(self.engine, checkfirst=True)
                self._ready.set()
        with self.engine.connect() as conn:
            if write:
                conn.execution_options(pld_write=True)
            with conn.begin():
                yield conn

    def add(self, job_id: str, record: dict[str, Any]) -> None:
        table = self.table
        with self._transaction(write=True) as conn:
            seq = conn.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.seq), 0))) or 0
            conn.execute(
                sa.insert(table).values(
                    id=job_id, seq=int(seq) + 1, status=record["status"], record=_dump(record)
                )
            )
            ended = (
                sa.select(table.c.id)
                .where(table.c.status.in_(ENDED_JOB_STATES))
                .order_by(table.c.seq.desc())
                .offset(KEEP_ENDED)
            )
            old = list(conn.scalars(ended))
            if old:
                conn.execute(sa.delete(table).where(table.c.id.in_(old)))

    def update(
        self, job_id: str, changes: dict[str, Any], only_if: Iterable[str] | None = None
    ) -> dict[str, Any] | None:
        table = self.table
        with self._transaction(write=True) as conn:
            query = sa.select(table.c.record).where(table.c.id == job_id)
            if conn.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE already serialises
                query = query.with_for_update()
            raw = conn.scalar(query)
            if raw is None:
                return None
            record: dict[str, Any] = json.loads(raw)
            if only_if is not None and record.get("status") not in tuple(only_if):
                return record
            record.update(changes)
            conn.execute(
                sa.update(table)
                .where(table.c.id == job_id)
                .values(status=record.get("status", "running"), record=_dump(record))
            )
            return record

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._transaction(write=False) as conn:
            raw = conn.scalar(sa.select(self.table.c.record).where(self.table.c.id == job_id))
        return json.loads(raw) if raw is not None else None

    def records(self) -> dict[str, dict[str, Any]]:
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                sa.select(self.table.c.id, self.table.c.record).order_by(self.table.c.seq)
            ).all()
        return {job_id: json.loads(raw) for job_id, raw in rows}


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, default=str)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` as the database persister makes one (SQLite waits 30 s)."""
    options = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
    try:
        return _make_engine(url, None, options)
    except Exception as exc:
        raise ConfigError(f"jobs url {url!r}: {exc}") from None
