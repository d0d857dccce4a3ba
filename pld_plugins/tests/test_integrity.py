"""Digests and signatures are pld's, not the persister's: every byte store gets them.

Each test runs against File, Rest (a real HTTP store), Database on SQLite, PostgreSQL and
MariaDB, and ``Drawer`` — a persister written the way docs/writing-a-plugin.md teaches, that
never heard of digests or signing. ``Raw`` reaches under each persister the way an attacker
with write access to the store would: it reads and replaces stored bytes and metadata.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from pld_core import (
    ConfigError,
    ModelIntegrityError,
    ModelPersister,
    ModelStore,
    annotate,
    require_verified,
)
from pld_core.integrity import digest_of
from pld_core.testing import PersisterContract, contract_model
from pld_plugins.persistence.database import Database
from pld_plugins.persistence.file import File
from pld_plugins.persistence.filelike import FileLike
from pld_plugins.persistence.rest import Rest

sys.path.insert(0, str(Path(__file__).parent))  # drawer_store, also for worker processes
from drawer_store import Drawer  # noqa: E402

KEY = "PLD_MODEL_SIGNING_KEY"
#: The database servers of conftest.py (the same variables; empty skips one).
SERVERS = {
    "postgresql": os.environ.get(
        "PLD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("PLD_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


class TestDrawerKeepsTheContract(PersisterContract):
    """The docs' persister is a real persister: the contract suite passes."""

    @pytest.fixture
    def persister(self, tmp_path):
        return Drawer(str(tmp_path / "drawer"))

    @pytest.fixture
    def reopen(self):
        return lambda persister: Drawer(str(persister.folder))


# -- raw access under each persister ---------------------------------------------------


class Raw:
    """What someone with write access to the store sees: bytes and metadata by version."""

    def get(self, version: int) -> tuple[bytes, dict[str, Any]]:
        raise NotImplementedError

    def put(self, version: int, data: bytes, entry: dict[str, Any]) -> None:
        raise NotImplementedError


class RawFileLike(Raw):
    def __init__(self, persister: FileLike) -> None:
        self.p = persister

    def get(self, version: int) -> tuple[bytes, dict[str, Any]]:
        entry = next(m for m in self.p.list_models() if m["version"] == version)
        return self.p.io.read(self.p.model_path(version)) or b"", entry

    def put(self, version: int, data: bytes, entry: dict[str, Any]) -> None:
        self.p.io.write(self.p.model_path(version), data)
        metadata = json.loads(self.p.io.read(self.p.metadata_path) or b"{}")
        metadata["models"] = [
            {**entry, "version": version} if m["version"] == version else m
            for m in metadata["models"]
        ]
        self.p.io.write(self.p.metadata_path, json.dumps(metadata).encode())


class RawDatabase(Raw):
    def __init__(self, persister: Database) -> None:
        self.p = persister

    def get(self, version: int) -> tuple[bytes, dict[str, Any]]:
        with self.p.engine.connect() as conn:
            chunks = self.p.chunks
            blobs = conn.scalars(
                sa.select(chunks.c.blob)
                .where(chunks.c.model_version == version)
                .order_by(chunks.c.id)
            ).all()
            metadata = conn.scalar(
                sa.select(self.p.models.c["metadata"]).where(self.p.models.c.version == version)
            )
        return b"".join(bytes(b) for b in blobs), json.loads(metadata)

    def put(self, version: int, data: bytes, entry: dict[str, Any]) -> None:
        with self.p.engine.begin() as conn:
            conn.execute(sa.delete(self.p.chunks).where(self.p.chunks.c.model_version == version))
            conn.execute(sa.insert(self.p.chunks).values(model_version=version, blob=data))
            conn.execute(
                sa.update(self.p.models)
                .where(self.p.models.c.version == version)
                .values(metadata=json.dumps({**entry, "version": version}))
            )


class RawDrawer(Raw):
    def __init__(self, persister: Drawer) -> None:
        self.p = persister

    def get(self, version: int) -> tuple[bytes, dict[str, Any]]:
        entry = next(m for m in self.p.list_models() if m["version"] == version)
        return (self.p.folder / f"{version}.bin").read_bytes(), entry

    def put(self, version: int, data: bytes, entry: dict[str, Any]) -> None:
        (self.p.folder / f"{version}.bin").write_bytes(data)
        index = self.p._index()
        index["models"] = [
            {**entry, "version": version} if m["version"] == version else m for m in index["models"]
        ]
        self.p._save(index)


STORES = ["file", "rest", "sqlite", *sorted(SERVERS), "third-party"]


class HttpStore:
    """A REST store: keeps PUT bodies by path, answers GET and DELETE."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        if request.method == "PUT":
            self.files[request.path] = request.get_data()
            response = Response(status=201)
        elif request.path not in self.files:
            response = Response(status=404)
        elif request.method == "DELETE":
            del self.files[request.path]
            response = Response(status=204)
        else:
            response = Response(self.files[request.path])
        return response(environ, start_response)


@pytest.fixture
def http_store():
    app = HttpStore()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def open_store(request, tmp_path) -> Iterator[Callable[[str], ModelStore]]:
    """``open_store(name)``: a fresh store of the kind under test; names give distinct stores."""
    kind = request.param
    cleanup: list[Database] = []
    if kind in SERVERS and not SERVERS[kind]:
        pytest.skip(f"{kind} tests disabled by an empty URL")
    http = request.getfixturevalue("http_store") if kind == "rest" else None

    def open_(name: str) -> ModelStore:
        if kind == "file":
            return File(str(tmp_path / name / "model-{version}"))
        if kind == "rest":
            return Rest(f"{http}/{name}/model-{{version}}")
        if kind == "third-party":
            return Drawer(str(tmp_path / name))
        if kind == "sqlite":
            return Database(f"sqlite:///{tmp_path / 'models.db'}", table_postfix=name)
        database = Database(SERVERS[kind], table_postfix=f"{name}{uuid.uuid4().hex[:8]}")
        cleanup.append(database)
        return database

    yield open_
    for database in cleanup:
        database.sa_metadata.drop_all(database.engine)
        database.close()


def raw(persister: ModelStore) -> Raw:
    if isinstance(persister, FileLike):
        return RawFileLike(persister)
    if isinstance(persister, Database):
        return RawDatabase(persister)
    assert isinstance(persister, Drawer)
    return RawDrawer(persister)


class Boom:
    """A pickle that creates ``path`` when unpickled: proof that something was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def evil_bytes(path: Path) -> bytes:
    return gzip.compress(pickle.dumps(Boom(path)))


every_store = pytest.mark.parametrize("open_store", STORES, indirect=True)


# -- the tests -----------------------------------------------------------------------------


@every_store
def test_signed_models_round_trip_and_carry_their_seal(open_store, monkeypatch):
    monkeypatch.setenv(KEY, "s3cret")
    persister = open_store("a")
    model = contract_model(7, params={"C": 0.3})
    version = persister.write(model)
    assert model.__metadata__["version"] == version
    assert model.__metadata__["signature"].startswith("pld-hmac-sha256:")
    persister.activate(version)
    loaded = persister.read()
    assert loaded.value == 7 and loaded.__metadata__["version"] == version
    listed = next(m for m in persister.list_models() if m["version"] == version)
    assert listed["digest"] == model.__metadata__["digest"]
    assert listed["params"] == {"C": 0.3}


@every_store
def test_without_a_key_a_flipped_byte_is_refused_before_unpickling(
    open_store, monkeypatch, tmp_path
):
    monkeypatch.delenv(KEY, raising=False)
    persister = open_store("a")
    persister.write(contract_model(1))
    version = persister.write(contract_model(2))
    _data, entry = raw(persister).get(version)
    marker = tmp_path / "pwned"
    raw(persister).put(version, evil_bytes(marker), entry)  # the digest is the old one
    with pytest.raises(ModelIntegrityError, match=rf"model version {version} .*corrupt"):
        persister.read(version)
    assert not marker.exists()
    assert persister.read(1).value == 1  # the others are untouched


@every_store
def test_with_a_key_tampered_bytes_with_a_fixed_digest_are_refused_before_unpickling(
    open_store, monkeypatch, tmp_path
):
    monkeypatch.setenv(KEY, "s3cret")
    persister = open_store("a")
    version = persister.write(contract_model(1))
    persister.activate(version)
    _data, entry = raw(persister).get(version)
    marker = tmp_path / "pwned"
    evil = evil_bytes(marker)
    raw(persister).put(version, evil, {**entry, "digest": digest_of(evil)})
    with pytest.raises(ModelIntegrityError, match="signature that does not match"):
        persister.read()
    assert not marker.exists()


@every_store
def test_with_a_key_an_unsigned_model_is_refused_saying_what_to_do(
    open_store, monkeypatch, tmp_path
):
    monkeypatch.delenv(KEY, raising=False)
    persister = open_store("a")
    version = persister.write(contract_model(1))  # written without a key: no signature
    assert "signature" not in raw(persister).get(version)[1]
    monkeypatch.setenv(KEY, "s3cret")
    with pytest.raises(ModelIntegrityError, match=r"is not signed .*re-fit it, or re-sign it"):
        persister.read(version)
    # ... and a planted unsigned pickle (with a matching digest) never runs.
    marker = tmp_path / "pwned"
    evil = evil_bytes(marker)
    raw(persister).put(version, evil, {"digest": digest_of(evil)})
    with pytest.raises(ModelIntegrityError, match="is not signed"):
        persister.read(version)
    assert not marker.exists()


@every_store
def test_a_replayed_blob_under_another_version_is_refused(open_store, monkeypatch):
    monkeypatch.setenv(KEY, "s3cret")
    persister = open_store("a")
    first = persister.write(contract_model(1))
    second = persister.write(contract_model(2))
    data, entry = raw(persister).get(first)
    raw(persister).put(second, data, entry)  # version 1's bytes, digest and signature
    with pytest.raises(ModelIntegrityError, match=f"model version {second} .*signature"):
        persister.read(second)
    assert persister.read(first).value == 1


@every_store
def test_a_blob_moved_from_another_store_is_refused(open_store, monkeypatch):
    monkeypatch.setenv(KEY, "s3cret")
    source, target = open_store("a"), open_store("b")
    assert source.store_identity() != target.store_identity()
    version = source.write(contract_model(1))
    assert target.write(contract_model(2)) == version
    data, entry = raw(source).get(version)
    raw(target).put(version, data, entry)
    with pytest.raises(ModelIntegrityError, match="signature that does not match"):
        target.read(version)


@every_store
def test_another_key_refuses_and_an_empty_key_is_a_config_error(open_store, monkeypatch):
    monkeypatch.setenv(KEY, "s3cret")
    persister = open_store("a")
    version = persister.write(contract_model(1))
    monkeypatch.setenv(KEY, "another key")
    with pytest.raises(ModelIntegrityError, match="signature that does not match"):
        persister.read(version)
    for empty in ("", "  "):
        monkeypatch.setenv(KEY, empty)
        with pytest.raises(ConfigError, match=f"{KEY} is set but empty"):
            persister.read(version)
        with pytest.raises(ConfigError, match=f"{KEY} is set but empty"):
            persister.write(contract_model(2))
    monkeypatch.delenv(KEY)
    assert [m["version"] for m in persister.list_models()] == [version]  # nothing written


@every_store
def test_models_stored_before_version_bound_signatures(open_store, monkeypatch):
    """A store written by pld 0.1 (digest; signature over the bytes only): loads without a
    key, refused with one, naming what to do."""
    monkeypatch.delenv(KEY, raising=False)
    persister = open_store("a")
    version = persister.write(contract_model(1))
    data, entry = raw(persister).get(version)
    raw(persister).put(version, data, {**entry, "signature": "hmac-sha256:" + "0" * 64})
    assert persister.read(version).value == 1
    monkeypatch.setenv(KEY, "s3cret")
    with pytest.raises(ModelIntegrityError, match="old signature .*re-fit it, or re-sign it"):
        persister.read(version)


@every_store
def test_palladium_models_without_a_digest_load_without_a_key(open_store, monkeypatch):
    monkeypatch.delenv(KEY, raising=False)
    persister = open_store("a")
    version = persister.write(contract_model(1))
    model = contract_model(5)
    annotate(model, {"version": version})
    buffer = gzip.compress(pickle.dumps(model))  # Palladium's format, no digest recorded
    raw(persister).put(version, buffer, {"version": version})
    assert persister.read(version).value == 5


# -- persisters that unpickle by themselves ----------------------------------------------


class Pickler(ModelPersister):
    """Palladium's interface: read() unpickles on its own, pld never sees the bytes."""

    def __init__(self) -> None:
        self.models: dict[int, bytes] = {}

    def read(self, version: int | None = None) -> Any:
        return pickle.loads(self.models[version or max(self.models)])  # noqa: S301

    def write(self, model: Any) -> int:
        version = len(self.models) + 1
        self.models[version] = pickle.dumps(model)
        return version

    def activate(self, version: int) -> None: ...

    def delete(self, version: int) -> None: ...

    def list_models(self) -> list[dict[str, Any]]:
        return []

    def list_properties(self) -> dict[str, str]:
        return {}


@pytest.mark.parametrize("open_store", ["file"], indirect=True)
def test_with_a_key_a_persister_that_unpickles_itself_is_refused(open_store, monkeypatch):
    monkeypatch.delenv(KEY, raising=False)
    require_verified(Pickler())  # without a key: Palladium's persisters work as before
    monkeypatch.setenv(KEY, "s3cret")
    with pytest.raises(ConfigError, match="unpickles models itself"):
        require_verified(Pickler())
    require_verified(open_store("a"))  # byte stores are checked by pld
