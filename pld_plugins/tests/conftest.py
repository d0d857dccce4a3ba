"""Database URLs for the persister tests: SQLite files, and the PostgreSQL and MariaDB servers.

The servers default to the CI services on 127.0.0.1; ``PLD_TEST_POSTGRES_URL`` and
``PLD_TEST_MYSQL_URL`` point elsewhere (set one to an empty string to skip its tests). Every
test gets tables with its own random postfix, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

SERVERS = {
    "postgresql": os.environ.get(
        "PLD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("PLD_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}
TABLES = ("model_attachments", "model_chunks", "models", "properties")


@dataclass(frozen=True)
class Store:
    """Where a Database persister keeps its tables."""

    url: str
    table_postfix: str

    def table(self, base: str) -> str:
        return f"{base}_{self.table_postfix}"


def drop_tables(store: Store) -> None:
    engine = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
    try:
        metadata = sa.MetaData()
        names = [store.table(base) for base in TABLES]
        metadata.reflect(engine, only=lambda name, _: name in names)
        metadata.drop_all(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=sorted(SERVERS))
def server_store(request: pytest.FixtureRequest):
    """A PostgreSQL or MariaDB store with fresh tables, dropped after the test."""
    url = SERVERS[request.param]
    if not url:
        pytest.skip(f"{request.param} tests disabled by an empty URL")
    store = Store(url, f"t{uuid.uuid4().hex[:12]}")
    yield store
    drop_tables(store)


@pytest.fixture(params=["sqlite", *sorted(SERVERS)])
def any_store(request: pytest.FixtureRequest, tmp_path):
    """A store on SQLite (a file in ``tmp_path``), PostgreSQL or MariaDB."""
    if request.param == "sqlite":
        yield Store(f"sqlite:///{tmp_path / 'models.db'}", "test")
        return
    url = SERVERS[request.param]
    if not url:
        pytest.skip(f"{request.param} tests disabled by an empty URL")
    store = Store(url, f"t{uuid.uuid4().hex[:12]}")
    yield store
    drop_tables(store)
