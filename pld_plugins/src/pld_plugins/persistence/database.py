"""``Database`` and ``DatabaseCLOB``: models in three SQL tables, in Palladium 1.2's schema.

Tables (``_<table_postfix>`` appended when given): ``properties(id, name, value)``,
``models(version, metadata)`` with the metadata as JSON, and ``model_chunks(id,
model_version, blob)`` holding the gzip pickle in ``chunk_size`` pieces. Model attachments
(``attachments/<name>`` metadata) are rows of ``model_attachments(id, model_version, name,
data)``, kept out of the metadata JSON; the table is created with the first attachment, so a
store without any keeps Palladium's three tables. Palladium kept attachments inside the
metadata JSON; such stores read as they are.

Unlike Palladium, a write picks its version inside the transaction that stores it, under a
row lock on the ``last-version`` property (``BEGIN IMMEDIATE`` on SQLite), so writers in
different processes get distinct versions; ``activate``, ``delete`` and ``upgrade`` first
lock the ``db-version`` property row (``SELECT ... FOR UPDATE``), so they run one after the
other and ``activate`` of a version being deleted fails instead of leaving the active
pointer naming it; ``delete`` removes the chunks itself and clears the active pointer;
missing versions raise ``LookupError`` everywhere; and a database failure reaches callers as
one :class:`DatabaseStoreError` line, never with the SQL statement.

This module is the only one importing SQLAlchemy; the plugin imports it on first use.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy import pool as sa_pool
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Dialect, Engine

from pld_core import ATTACHMENT_PREFIX, ATTACHMENTS, ModelStore, PldError, StoredModel
from pld_plugins.persistence._common import (
    ACTIVE,
    DB_VERSION,
    FORMAT_VERSION,
    LAST_VERSION,
    as_version,
    needs_step,
    no_active_model,
    no_such_version,
    to_json,
)

__all__ = ["Database", "DatabaseCLOB", "DatabaseStoreError"]

logger = logging.getLogger(__name__)

_MYSQL = ("mysql", "mariadb")
# MySQL's TEXT and BLOB stop at 64 KiB: metadata with cv_results and 100 MiB chunks need LONG.
_LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), *_MYSQL)
_LONG_BINARY = sa.LargeBinary().with_variant(mysql.LONGBLOB(), *_MYSQL)
_WRITE_ATTEMPTS = 5


class _NoAttachmentsTable(Exception):
    """A write has attachments and ``model_attachments`` may not exist yet."""


class DatabaseStoreError(PldError):
    """The database failed a store operation; the message names the store, not the SQL."""


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _database_errors(method: _Method) -> _Method:
    """Turn SQLAlchemy's errors (which quote the statement and its values) into one line."""

    @functools.wraps(method)
    def wrapper(self: Database, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sa_exc.DBAPIError as exc:
            reason = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
            raise DatabaseStoreError(
                f"the model store {self.where} failed to {method.__name__.replace('_', ' ')} "
                f"({reason}); the server log has the details"
            ) from exc

    return cast(_Method, wrapper)


class Base64Text(sa.types.TypeDecorator[bytes]):
    """Bytes stored base64-encoded in a text column, for databases without BLOBs."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        long_text = mysql.LONGTEXT() if dialect.name in _MYSQL else sa.Text()
        return dialect.type_descriptor(long_text)

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else base64.b64encode(value).decode("ascii")

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else base64.b64decode(value)


class Database(ModelStore):
    """Store models in a SQL database reached through a SQLAlchemy ``url``.

    :param url: e.g. ``sqlite:///models.db`` or ``postgresql+psycopg://user@host/db``.
    :param poolclass: a SQLAlchemy pool class (or its name); default ``NullPool``, so no
        connection stays open between calls. In-memory SQLite gets ``StaticPool``.
    :param chunk_size: bytes per chunk row. MySQL/MariaDB refuse rows above
        ``max_allowed_packet`` (often 16-64 MiB): lower it there.
    :param table_postfix: appended as ``_<postfix>`` to every table name.
    :param engine_options: extra ``create_engine`` keyword arguments (``connect_args``...).
    """

    chunk_type: Any = _LONG_BINARY

    def __init__(
        self,
        url: str,
        poolclass: Any = None,
        chunk_size: int = 100 * 1024**2,
        table_postfix: str = "",
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive number of bytes, not {chunk_size!r}")
        if not re.fullmatch(r"\w*", table_postfix or ""):
            raise ValueError(
                f"table_postfix may hold letters, digits and '_' only: {table_postfix!r}"
            )
        self.url = url
        self.chunk_size = chunk_size
        self.table_postfix = table_postfix or ""
        self.engine = _make_engine(url, poolclass, dict(engine_options or {}))
        self.where = self.engine.url.render_as_string(hide_password=True)
        if self.table_postfix:
            self.where += f" (tables *_{self.table_postfix})"
        self._tables()
        self._lock = threading.RLock()
        # One shared connection (in-memory SQLite) must not be used by two threads at once.
        self._serialise_reads = isinstance(self.engine.pool, sa_pool.StaticPool)
        self._schema_ready = threading.Event()
        self._attachments_ready = threading.Event()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.where!r})"

    def close(self) -> None:
        """Close pooled connections (there are none with the default ``NullPool``)."""
        self.engine.dispose()

    def table_name(self, base: str) -> str:
        return f"{base}_{self.table_postfix}" if self.table_postfix else base

    def _tables(self) -> None:
        self.sa_metadata = sa.MetaData()
        self.properties = sa.Table(
            self.table_name("properties"),
            self.sa_metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(1000)),
            sa.Column("value", sa.String(1000), nullable=False),
        )
        self.models = sa.Table(
            self.table_name("models"),
            self.sa_metadata,
            sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("metadata", _LONG_TEXT, nullable=False),
        )
        self.chunks = sa.Table(
            self.table_name("model_chunks"),
            self.sa_metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column(
                "model_version",
                sa.Integer,
                sa.ForeignKey(f"{self.models.name}.version", ondelete="CASCADE"),
                nullable=False,
                index=True,
            ),
            sa.Column("blob", self.chunk_type, nullable=False),
        )
        self.attachments = sa.Table(
            self.table_name("model_attachments"),
            self.sa_metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column(
                "model_version",
                sa.Integer,
                sa.ForeignKey(f"{self.models.name}.version", ondelete="CASCADE"),
                nullable=False,
                index=True,
            ),
            sa.Column("name", sa.String(1000), nullable=False),
            sa.Column("data", self.chunk_type, nullable=False),
        )

    # -- the persister interface ---------------------------------------------------------

    def store_identity(self) -> str:
        """``database:<database name>[/<table postfix>]``: not the host, which clients name
        differently."""
        name = (self.engine.url.database or "").replace("\\", "/").rsplit("/", 1)[-1]
        return f"database:{name}/{self.table_postfix}" if self.table_postfix else f"database:{name}"

    @_database_errors
    def read_bytes(self, version: int | None) -> StoredModel:
        with self._transaction() as conn:
            if version is None:
                active = self._get(conn, ACTIVE)
                if active is None:
                    raise no_active_model(self.where)
                version = as_version(active)
            else:
                version = as_version(version)
            metadata = conn.scalar(
                sa.select(self.models.c["metadata"]).where(self.models.c.version == version)
            )
            if metadata is None:
                raise no_such_version(version, self.where)
            blobs = conn.scalars(
                sa.select(self.chunks.c.blob)
                .where(self.chunks.c.model_version == version)
                .order_by(self.chunks.c.id)
            ).all()
            entry = json.loads(metadata)
            attached = self._attached(conn, version, entry)
        if not blobs:
            raise LookupError(f"Model version {version} in {self.where} has no stored data")
        data = b"".join(bytes(blob) for blob in blobs)
        for name, value in attached:
            entry[ATTACHMENT_PREFIX + name] = base64.b64encode(bytes(value)).decode("ascii")
        return StoredModel(version, data, entry)

    @_database_errors
    def write_bytes(self, prepare: Callable[[int], StoredModel]) -> int:
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                with self._transaction(write=True) as conn:
                    version = self._next_version(conn)
                    stored = prepare(version)
                    self._insert(
                        conn, version, {**stored.metadata, "version": version}, stored.data
                    )
                return version
            except _NoAttachmentsTable:
                self._create_attachments_table()  # outside the write transaction
                continue
            except (sa_exc.IntegrityError, sa_exc.OperationalError) as exc:
                # Another process took the version first, or the database saw a deadlock.
                if attempt == _WRITE_ATTEMPTS:
                    raise
                logger.debug("writing to %s: retrying after %s", self.where, exc)
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    @_database_errors
    def activate(self, version: int) -> None:
        version = as_version(version)
        with self._transaction(write=True, lock_store=True) as conn:
            if not self._exists(conn, version):
                raise no_such_version(version, self.where)
            self._set(conn, ACTIVE, str(version))

    @_database_errors
    def delete(self, version: int) -> None:
        version = as_version(version)
        with self._transaction(write=True, lock_store=True) as conn:
            if not self._exists(conn, version):
                raise no_such_version(version, self.where)
            # Stores written by Palladium have no last-version: remember the number now.
            self._set(conn, LAST_VERSION, str(self._next_version(conn) - 1))
            # Delete the chunks explicitly: SQLite does not enforce the FK's cascade.
            conn.execute(sa.delete(self.chunks).where(self.chunks.c.model_version == version))
            metadata = conn.scalar(
                sa.select(self.models.c["metadata"]).where(self.models.c.version == version)
            )
            if _lists_attachments(json.loads(metadata or "{}")):
                conn.execute(
                    sa.delete(self.attachments).where(self.attachments.c.model_version == version)
                )
            conn.execute(sa.delete(self.models).where(self.models.c.version == version))
            if self._get(conn, ACTIVE) == str(version):
                conn.execute(sa.delete(self.properties).where(self.properties.c.name == ACTIVE))

    @_database_errors
    def list_models(self) -> list[dict[str, Any]]:
        with self._transaction() as conn:
            rows = conn.execute(
                sa.select(self.models.c.version, self.models.c["metadata"]).order_by(
                    self.models.c.version
                )
            ).all()
        entries = []
        for version, metadata in rows:
            entry = json.loads(metadata)
            entry.setdefault("version", version)
            entries.append(entry)
        return entries

    @_database_errors
    def list_properties(self) -> dict[str, str]:
        with self._transaction() as conn:
            rows = conn.execute(
                sa.select(self.properties.c.name, self.properties.c.value).order_by(
                    self.properties.c.id.desc()
                )
            ).all()
        return {name: value for name, value in rows}  # the oldest row of a name wins

    @_database_errors
    def upgrade(self, from_version: str | None = None, to_version: str | None = None) -> None:
        """Bring a store up to date; from before 1.0 that means activating the newest model."""
        with self._transaction(write=True, lock_store=True) as conn:
            start = from_version if from_version is not None else self._get(conn, DB_VERSION)
            if needs_step("1.0", start, to_version) and self._get(conn, ACTIVE) is None:
                newest = conn.scalar(sa.select(sa.func.max(self.models.c.version)))
                if newest is not None:
                    self._set(conn, ACTIVE, str(newest))
            self._set(conn, DB_VERSION, to_version or FORMAT_VERSION)

    # -- helpers -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, write: bool = False, lock_store: bool = False) -> Iterator[Connection]:
        """A transaction; writers of this instance also queue on a lock, sparing the database.

        Writes run at READ COMMITTED on database servers, so a statement after a row lock sees
        what the lock holder committed (MariaDB's default, REPEATABLE READ, would not). With
        ``lock_store`` the transaction first takes the store lock (:meth:`_lock_store`).
        """
        self._ensure_schema()
        lock = self._lock if write or self._serialise_reads else nullcontext()
        with lock, self.engine.connect() as conn:
            if write:
                conn.execution_options(pld_write=True)
                if conn.dialect.name != "sqlite":
                    conn.execution_options(isolation_level="READ COMMITTED")
            with conn.begin():
                if lock_store:
                    self._lock_store(conn)
                yield conn

    def _lock_store(self, conn: Connection) -> None:
        """Lock the ``db-version`` row until the transaction ends: the store's lock.

        Every ``activate``, ``delete`` and ``upgrade`` takes it first, so they are serialised
        across processes. (SQLite has no row locks; ``BEGIN IMMEDIATE`` serialises there.)
        """
        if self._get(conn, DB_VERSION, lock=True) is None:
            # The row was removed by hand: put it back (it is the lock from now on).
            self._set(conn, DB_VERSION, FORMAT_VERSION)
            self._get(conn, DB_VERSION, lock=True)

    def _ensure_schema(self) -> None:
        """Create missing tables and stamp ``db-version``, once per instance."""
        if self._schema_ready.is_set():
            return
        with self._lock:
            if self._schema_ready.is_set():
                return
            for attempt in range(1, 4):
                try:
                    with self.engine.connect() as conn:
                        conn.execution_options(pld_write=True)
                        with conn.begin():
                            self.sa_metadata.create_all(conn, self._tables_made, checkfirst=True)
                            if self._get(conn, DB_VERSION) is None:
                                self._set(conn, DB_VERSION, FORMAT_VERSION)
                    break
                except sa_exc.DBAPIError:
                    # Another process created the tables at the same moment; look again.
                    if attempt == 3:
                        raise
                    time.sleep(0.05 * attempt)
            self._schema_ready.set()

    def _next_version(self, conn: Connection) -> int:
        """One more than any version this store has ever had, holding the version lock."""
        last = self._get(conn, LAST_VERSION, lock=True)
        newest = conn.scalar(sa.select(sa.func.max(self.models.c.version))) or 0
        return max(int(last or 0), newest) + 1

    def _insert(
        self, conn: Connection, version: int, metadata: dict[str, Any], data: bytes
    ) -> None:
        keys = [key for key in metadata if key.startswith(ATTACHMENT_PREFIX)]
        if keys and not self._attachments_ready.is_set():
            raise _NoAttachmentsTable
        attachments = {key: metadata.pop(key) for key in keys}  # rows, not metadata JSON
        conn.execute(
            sa.insert(self.models).values({"version": version, "metadata": to_json(metadata)})
        )
        for key, text in attachments.items():
            conn.execute(
                sa.insert(self.attachments).values(
                    model_version=version,
                    name=key[len(ATTACHMENT_PREFIX) :],
                    data=base64.b64decode(text),
                )
            )
        view = memoryview(data)
        for start in range(0, len(data), self.chunk_size):
            blob = bytes(view[start : start + self.chunk_size])
            conn.execute(sa.insert(self.chunks).values(model_version=version, blob=blob))
        self._set(conn, LAST_VERSION, str(version))

    @property
    def _tables_made(self) -> list[sa.Table]:
        """The tables every store has (Palladium's); ``model_attachments`` comes on demand."""
        return [self.properties, self.models, self.chunks]

    def _create_attachments_table(self) -> None:
        with self.engine.connect() as conn:
            conn.execution_options(pld_write=True)
            with conn.begin():
                self.attachments.create(conn, checkfirst=True)
        self._attachments_ready.set()

    def _attached(
        self, conn: Connection, version: int, entry: dict[str, Any]
    ) -> list[tuple[str, bytes]]:
        """The attachment rows of ``version``, when its metadata lists any stored apart."""
        if not _lists_attachments(entry):
            return []
        rows = conn.execute(
            sa.select(self.attachments.c.name, self.attachments.c.data).where(
                self.attachments.c.model_version == version
            )
        ).all()
        return [(str(name), bytes(data)) for name, data in rows]

    def _exists(self, conn: Connection, version: int) -> bool:
        query = sa.select(self.models.c.version).where(self.models.c.version == version)
        return conn.scalar(query) is not None

    def _get(self, conn: Connection, name: str, lock: bool = False) -> str | None:
        query = (
            sa.select(self.properties.c.value)
            .where(self.properties.c.name == name)
            .order_by(self.properties.c.id)
            .limit(1)
        )
        if lock:
            query = query.with_for_update()
        return conn.scalar(query)

    def _set(self, conn: Connection, name: str, value: str) -> None:
        where = self.properties.c.name == name
        if conn.scalar(sa.select(self.properties.c.id).where(where).limit(1)) is None:
            conn.execute(sa.insert(self.properties).values(name=name, value=value))
        else:
            conn.execute(sa.update(self.properties).where(where).values(value=value))


def _lists_attachments(entry: dict[str, Any]) -> bool:
    """Whether ``entry`` names attachments kept apart (Palladium kept them in the JSON)."""
    keys = entry.get(ATTACHMENTS) or []
    return any(isinstance(key, str) and key not in entry for key in keys)


class DatabaseCLOB(Database):
    """``Database`` with the chunks base64-encoded in a text column, for RDBMSs without BLOBs."""

    chunk_type = Base64Text()


def _make_engine(url: str, poolclass: Any, options: dict[str, Any]) -> Engine:
    parsed = sa.make_url(url)
    memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if isinstance(poolclass, str):
        name = poolclass.rsplit(".", 1)[-1]
        if not isinstance(getattr(sa_pool, name, None), type):
            raise ValueError(f"poolclass {poolclass!r} is not a pool of sqlalchemy.pool")
        poolclass = getattr(sa_pool, name)
    if poolclass is None:
        # NullPool holds no connection between calls; an in-memory SQLite database would
        # vanish with its connection, so it keeps one.
        poolclass = sa_pool.StaticPool if memory else sa_pool.NullPool
    if memory:
        options.setdefault("connect_args", {}).setdefault("check_same_thread", False)
    engine = sa.create_engine(parsed, poolclass=poolclass, **options)
    if engine.dialect.name == "sqlite" and engine.dialect.driver == "pysqlite":
        _take_over_sqlite_transactions(engine)
    return engine


def _take_over_sqlite_transactions(engine: Engine) -> None:
    """Emit BEGIN ourselves: plain for reads, IMMEDIATE for writes (SQLAlchemy's recipe).

    ``BEGIN IMMEDIATE`` takes SQLite's write lock before the version is computed, so two
    processes writing at once wait for each other instead of picking the same number.
    """

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("pld_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
