"""An example pld plugin: ``ZipPersister`` keeps all model versions in one zip archive.

The archive holds ``index.json`` (model metadata and store properties) and one pickle per
version. Every change rewrites the archive to a temporary file and renames it into place, so a
crash never leaves a half-written store, and a lock file serialises writers.

It is a ``ModelStore``: it keeps the bytes pld hands it and hands them back. pld pickles the
model, records its digest (and signature, with ``PLD_MODEL_SIGNING_KEY`` set) in the metadata,
and checks both before it unpickles anything read from here.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pld_core import ModelStore, StoredModel, hookimpl

INDEX = "index.json"


class ZipPersister(ModelStore):
    """Model versions in one zip file at ``path``."""

    def __init__(self, path: str):
        self.path = path

    # -- the ModelStore contract ---------------------------------------------------------------

    def store_identity(self) -> str:
        """Signatures cover this name: a model copied in from another archive is refused."""
        return f"zip:{os.path.basename(self.path)}"

    def read_bytes(self, version: int | None) -> StoredModel:
        with self._locked():
            index = self._index()
            if version is None:
                active = index["properties"].get("active-model")
                if active is None:
                    raise LookupError(f"No active model in {self.path}")
                version = int(active)
            version = int(version)
            entry = next((m for m in index["models"] if m["version"] == version), None)
            if entry is None:
                raise LookupError(f"No model with version {version} in {self.path}")
            with zipfile.ZipFile(self.path) as archive:
                return StoredModel(version, archive.read(_member(version)), entry)

    def write_bytes(self, prepare: Callable[[int], StoredModel]) -> int:
        with self._locked():
            index = self._index()
            version = int(index["properties"].get("last-version", 0)) + 1
            stored = prepare(version)  # the bytes and metadata pld wants kept as this version
            index["models"].append({**stored.metadata, "version": version})
            index["properties"]["last-version"] = str(version)
            self._rewrite(index, add={_member(version): stored.data})
            return version

    def activate(self, version: int) -> None:
        with self._locked():
            index = self._index()
            self._require(index, version)
            index["properties"]["active-model"] = str(int(version))
            self._rewrite(index)

    def delete(self, version: int) -> None:
        with self._locked():
            index = self._index()
            self._require(index, version)
            index["models"] = [m for m in index["models"] if m["version"] != int(version)]
            if index["properties"].get("active-model") == str(int(version)):
                del index["properties"]["active-model"]
            self._rewrite(index, drop={_member(int(version))})

    def list_models(self) -> list[dict[str, Any]]:
        with self._locked():
            return sorted(self._index()["models"], key=lambda m: m["version"])

    def list_properties(self) -> dict[str, str]:
        with self._locked():
            return dict(self._index()["properties"])

    # -- the archive ---------------------------------------------------------------------------

    def _require(self, index: dict[str, Any], version: int) -> None:
        if not any(m["version"] == int(version) for m in index["models"]):
            raise LookupError(f"No model with version {version} in {self.path}")

    def _index(self) -> dict[str, Any]:
        if not os.path.exists(self.path):
            return {"models": [], "properties": {}}
        with zipfile.ZipFile(self.path) as archive:
            return json.loads(archive.read(INDEX))

    def _rewrite(
        self,
        index: dict[str, Any],
        add: dict[str, bytes] | None = None,
        drop: set[str] | None = None,
    ) -> None:
        add, drop = add or {}, drop or set()
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as new:
                new.writestr(INDEX, json.dumps(index, default=str))
                if os.path.exists(self.path):
                    with zipfile.ZipFile(self.path) as old:
                        for name in old.namelist():
                            if name != INDEX and name not in drop and name not in add:
                                new.writestr(name, old.read(name))
                for name, data in add.items():
                    new.writestr(name, data)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _member(version: int) -> str:
    return f"models/{version}.pickle"


@hookimpl
def pld_register_persisters(register: Any) -> None:
    """Make ``'!': 'zip'`` available in configs."""
    register("zip", ZipPersister)
