"""Stored models are checked on read: a flipped byte is refused; with a key, so is no signature."""

from __future__ import annotations

import gzip

import pytest
from sqlalchemy import create_engine, text

from pld_core.testing import contract_model
from pld_plugins.persistence import ModelIntegrityError
from pld_plugins.persistence.database import Database
from pld_plugins.persistence.file import File

KEY = "PLD_MODEL_SIGNING_KEY"


@pytest.fixture(params=["file", "database"])
def store(request, tmp_path):
    """A persister plus a function that flips one byte of a stored model's bytes."""
    if request.param == "file":
        persister = File(str(tmp_path / "model-{version}"))

        def flip(version: int) -> None:
            path = tmp_path / f"model-{version}.pkl.gz"
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x01
            path.write_bytes(bytes(data))

        return persister, flip
    url = f"sqlite:///{tmp_path / 'models.db'}"
    persister = Database(url)

    def flip(version: int) -> None:
        engine = create_engine(url)
        with engine.begin() as conn:
            row = conn.execute(
                text("SELECT id, blob FROM model_chunks WHERE model_version = :v"), {"v": version}
            ).first()
            data = bytearray(row.blob)
            data[len(data) // 2] ^= 0x01
            conn.execute(
                text("UPDATE model_chunks SET blob = :b WHERE id = :i"),
                {"b": bytes(data), "i": row.id},
            )
        engine.dispose()

    return persister, flip


def test_a_flipped_byte_is_refused_naming_the_version(store, monkeypatch):
    monkeypatch.delenv(KEY, raising=False)
    persister, flip = store
    persister.write(contract_model(1))
    persister.write(contract_model(2))
    flip(2)
    with pytest.raises(ModelIntegrityError, match=r"model version 2 .*corrupt or was modified"):
        persister.read(2)
    assert persister.read(1).value == 1  # the others are untouched


def test_with_a_signing_key_unsigned_models_are_refused(store, monkeypatch):
    persister, _flip = store
    monkeypatch.delenv(KEY, raising=False)
    persister.write(contract_model(1))  # written without a key: no signature
    monkeypatch.setenv(KEY, "s3cret")
    with pytest.raises(ModelIntegrityError, match=r"model version 1 .*is not signed"):
        persister.read(1)
    version = persister.write(contract_model(2))
    assert persister.read(version).value == 2
    signature = next(m for m in persister.list_models() if m["version"] == version)["signature"]
    assert signature.startswith("hmac-sha256:")
    monkeypatch.setenv(KEY, "another key")
    with pytest.raises(ModelIntegrityError, match="signature that does not match"):
        persister.read(version)


def test_a_tampered_but_consistent_model_is_refused_with_a_key(tmp_path, monkeypatch):
    """Someone without the key replaces model bytes and fixes the digest: the HMAC catches it."""
    import json

    from pld_plugins.persistence._common import digest_of

    monkeypatch.setenv(KEY, "s3cret")
    persister = File(str(tmp_path / "model-{version}"))
    persister.write(contract_model(1))
    evil = gzip.compress(b"not the model")
    (tmp_path / "model-1.pkl.gz").write_bytes(evil)
    metadata_path = tmp_path / "model-metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["models"][0]["digest"] = digest_of(evil)
    metadata_path.write_text(json.dumps(metadata))
    with pytest.raises(ModelIntegrityError, match="signature that does not match"):
        persister.read(1)
