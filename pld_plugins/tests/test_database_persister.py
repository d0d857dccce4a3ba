"""Database and DatabaseCLOB on SQLite, PostgreSQL and MariaDB, checked in the tables themselves."""

from __future__ import annotations

import base64
import gzip
import json
import pickle
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import sqlalchemy as sa

from pld_core.testing import contract_model
from pld_plugins.persistence import ModelIntegrityError
from pld_plugins.persistence.database import Database, DatabaseCLOB


def rows(url, table, *columns, order="id"):
    """The rows of ``table`` as tuples of ``columns``, read through a reflected table."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        reflected = sa.Table(table, sa.MetaData(), autoload_with=engine)
        query = sa.select(*(reflected.c[name] for name in columns)).order_by(reflected.c[order])
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]
    finally:
        engine.dispose()


def execute(url, *statements):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for statement, params in statements:
                conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


@pytest.fixture(params=[Database, DatabaseCLOB], ids=["blob", "clob"])
def cls(request):
    return request.param


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'models.db'}"


def test_small_chunks_make_several_rows_and_read_back(any_store, cls):
    persister = cls(any_store.url, chunk_size=4, table_postfix=any_store.table_postfix)
    version = persister.write(contract_model(3, feature_names=["a", "b"]))
    chunks = rows(any_store.url, any_store.table("model_chunks"), "model_version", "blob")
    assert len(chunks) > 5
    assert {model_version for model_version, _ in chunks} == {version}
    raw = [base64.b64decode(blob) if cls is DatabaseCLOB else bytes(blob) for _, blob in chunks]
    assert all(len(piece) == 4 for piece in raw[:-1]) and 1 <= len(raw[-1]) <= 4
    stored = pickle.loads(gzip.decompress(b"".join(raw)))
    assert stored.value == 3 and stored.__metadata__["version"] == version
    assert persister.read(version).predict([0]) == [3]


def test_delete_removes_every_chunk_row(any_store, cls):
    persister = cls(any_store.url, chunk_size=4, table_postfix=any_store.table_postfix)
    first = persister.write(contract_model(1))
    second = persister.write(contract_model(2))
    persister.activate(first)
    persister.delete(first)
    chunks = rows(any_store.url, any_store.table("model_chunks"), "model_version")
    assert chunks and {version for (version,) in chunks} == {second}
    assert rows(any_store.url, any_store.table("models"), "version", order="version") == [(second,)]
    properties = dict(rows(any_store.url, any_store.table("properties"), "name", "value"))
    assert "active-model" not in properties
    persister.delete(second)
    assert rows(any_store.url, any_store.table("model_chunks"), "model_version") == []


def test_table_postfix_names_every_table(sqlite_url, cls):
    cls(sqlite_url, table_postfix="fix").write(contract_model())
    cls(sqlite_url).write(contract_model())
    names = set(
        sa.inspect(sa.create_engine(sqlite_url, poolclass=sa.pool.NullPool)).get_table_names()
    )
    assert names == {
        "models",
        "model_chunks",
        "properties",
        "models_fix",
        "model_chunks_fix",
        "properties_fix",
    }
    assert cls(sqlite_url, table_postfix="fix").list_models()[0]["version"] == 1
    assert rows(sqlite_url, "models_fix", "version", order="version") == [(1,)]


def test_schema_matches_palladiums(any_store, cls):
    persister = cls(any_store.url, table_postfix=any_store.table_postfix)
    assert persister.list_properties() == {"db-version": "1.0"}
    engine = sa.create_engine(any_store.url, poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        columns = {
            base: {c["name"]: c for c in inspector.get_columns(any_store.table(base))}
            for base in ("properties", "models", "model_chunks")
        }
        (fk,) = inspector.get_foreign_keys(any_store.table("model_chunks"))
    finally:
        engine.dispose()
    assert list(columns["properties"]) == ["id", "name", "value"]
    assert list(columns["models"]) == ["version", "metadata"]
    assert list(columns["model_chunks"]) == ["id", "model_version", "blob"]
    assert columns["properties"]["value"]["nullable"] is False
    assert columns["models"]["metadata"]["nullable"] is False
    assert columns["model_chunks"]["blob"]["nullable"] is False
    assert fk["referred_table"] == any_store.table("models")
    assert fk["referred_columns"] == ["version"]
    assert fk["options"].get("ondelete") == "CASCADE"


def test_reads_a_database_written_by_palladium(sqlite_url):
    """Rows as Palladium 1.2 writes them: no last-version, no digest."""
    Database(sqlite_url).list_models()  # create the tables
    data = gzip.compress(pickle.dumps(contract_model(9, version=5)))
    execute(
        sqlite_url,
        ("DELETE FROM properties", {}),
        ("INSERT INTO properties (name, value) VALUES ('db-version', '1.2.4')", {}),
        ("INSERT INTO properties (name, value) VALUES ('active-model', '5')", {}),
        ("INSERT INTO models (version, metadata) VALUES (5, :m)", {"m": '{"version": 5}'}),
        ("INSERT INTO model_chunks (model_version, blob) VALUES (5, :b)", {"b": data[:10]}),
        ("INSERT INTO model_chunks (model_version, blob) VALUES (5, :b)", {"b": data[10:]}),
    )
    persister = Database(sqlite_url)
    assert persister.read().value == 9
    assert persister.list_models() == [{"version": 5}]
    persister.delete(5)
    assert persister.write(contract_model()) == 6


def test_upgrade_from_0_9_activates_the_newest_model(sqlite_url):
    persister = Database(sqlite_url)
    persister.write(contract_model())
    persister.write(contract_model())
    persister.upgrade(from_version="0.9.1")
    assert persister.list_properties()["active-model"] == "2"
    assert persister.list_properties()["db-version"] == "1.0"
    persister.activate(1)
    persister.upgrade()  # already at 1.0: nothing to do
    assert persister.list_properties()["active-model"] == "1"


def test_a_tampered_chunk_is_refused(sqlite_url):
    persister = Database(sqlite_url, chunk_size=16)
    persister.activate(persister.write(contract_model(1)))
    execute(sqlite_url, ("UPDATE model_chunks SET blob = :b WHERE id = 2", {"b": b"x" * 16}))
    with pytest.raises(
        ModelIntegrityError, match=r"model version 1 in Database\(.sqlite:///.* is corrupt"
    ):
        persister.read()


def test_an_active_model_without_rows_is_a_lookup_error(sqlite_url):
    persister = Database(sqlite_url)
    persister.activate(persister.write(contract_model()))
    execute(sqlite_url, ("DELETE FROM model_chunks", {}), ("DELETE FROM models", {}))
    with pytest.raises(LookupError, match="No model with version 1"):
        persister.read()
    execute(sqlite_url, ("DELETE FROM properties WHERE name = 'active-model'", {}))
    with pytest.raises(LookupError, match="No active model in sqlite:///"):
        persister.read()


def test_numpy_metadata_is_stored_as_json(sqlite_url, cls):
    persister = cls(sqlite_url)
    model = contract_model(score_test=np.float64(0.75), n=np.int32(3), names=np.array(["x"]))
    version = persister.write(model)
    (stored,) = rows(sqlite_url, "models", "metadata", order="version")
    assert {k: v for k, v in json.loads(stored[0]).items() if k != "digest"} == {
        "score_test": 0.75,
        "n": 3,
        "names": ["x"],
        "version": version,
    }
    assert persister.read(version).__metadata__["score_test"] == np.float64(0.75)


def test_pools(sqlite_url):
    assert isinstance(Database(sqlite_url).engine.pool, sa.pool.NullPool)
    assert isinstance(Database("sqlite://").engine.pool, sa.pool.StaticPool)
    named = Database(sqlite_url, poolclass="sqlalchemy.pool.QueuePool")
    assert isinstance(named.engine.pool, sa.pool.QueuePool)
    named.close()
    explicit = Database(sqlite_url, poolclass=sa.pool.SingletonThreadPool)
    assert isinstance(explicit.engine.pool, sa.pool.SingletonThreadPool)
    explicit.close()


def test_null_pool_holds_no_connection_between_calls(any_store):
    persister = Database(any_store.url, table_postfix=any_store.table_postfix)
    opened, closed = [], []
    sa.event.listen(persister.engine.pool, "connect", lambda *args: opened.append(1))
    sa.event.listen(persister.engine.pool, "close", lambda *args: closed.append(1))
    persister.activate(persister.write(contract_model()))
    persister.read()
    persister.list_models()
    assert len(opened) >= 4 and len(closed) == len(opened)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="chunk_size must be a positive"):
        Database("sqlite://", chunk_size=0)
    with pytest.raises(ValueError, match="poolclass 'FastPool' is not a pool"):
        Database("sqlite://", poolclass="FastPool")
    with pytest.raises(ValueError, match="table_postfix may hold"):
        Database("sqlite://", table_postfix="x; DROP TABLE models")


def test_the_url_password_is_hidden():
    persister = Database("postgresql+psycopg://user:secret@127.0.0.1/db")
    assert "secret" not in repr(persister) and "***" in repr(persister)


def test_concurrent_writers_in_threads_get_distinct_versions(any_store, cls):
    written: list[int] = []
    errors: list[BaseException] = []

    def writer():
        persister = cls(any_store.url, chunk_size=32, table_postfix=any_store.table_postfix)
        try:
            for _ in range(4):
                written.append(persister.write(contract_model()))
        except BaseException as exc:  # reported below, with the versions
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(written) == list(range(1, 21))
    persister = cls(any_store.url, table_postfix=any_store.table_postfix)
    assert [entry["version"] for entry in persister.list_models()] == list(range(1, 21))
    assert persister.read(20).__metadata__["version"] == 20


WRITER = textwrap.dedent(
    """
    import sys
    from pld_core.testing import contract_model
    from pld_plugins.persistence.database import Database

    persister = Database(sys.argv[1])
    print(" ".join(str(persister.write(contract_model())) for _ in range(int(sys.argv[2]))))
    """
)


def test_concurrent_processes_on_sqlite_get_distinct_versions(sqlite_url):
    Database(sqlite_url).list_models()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, sqlite_url, "5"], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    written = []
    for writer in writers:
        out, _ = writer.communicate(timeout=60)
        assert writer.returncode == 0
        written.extend(int(version) for version in out.split())
    assert sorted(written) == list(range(1, 21))


def test_a_failed_write_leaves_no_rows_and_no_version_on_the_model(sqlite_url, cls):
    class Unpicklable:
        def __reduce__(self):
            raise TypeError("cannot pickle this")

    persister = cls(sqlite_url)
    persister.write(contract_model())
    model = Unpicklable()
    model.__metadata__ = {"name": "broken"}
    with pytest.raises(TypeError, match="cannot pickle this"):
        persister.write(model)
    assert model.__metadata__ == {"name": "broken"}
    assert rows(sqlite_url, "models", "version", order="version") == [(1,)]
    assert {version for (version,) in rows(sqlite_url, "model_chunks", "model_version")} == {1}
    assert persister.write(contract_model()) == 2
