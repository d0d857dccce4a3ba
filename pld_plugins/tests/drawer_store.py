"""A third party's persister, written from docs/writing-a-plugin.md: it never heard of
digests or signing. A module of its own, so the contract's worker processes can import it."""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pld_core import ModelStore, StoredModel


class Drawer(ModelStore):
    """Each version's bytes in ``<folder>/<version>.bin``, everything else in ``index.json``."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"Drawer({str(self.folder)!r})"

    def store_identity(self) -> str:
        return f"drawer:{self.folder.name}"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.folder / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _index(self) -> dict[str, Any]:
        path = self.folder / "index.json"
        if not path.exists():
            return {"models": [], "properties": {}}
        return json.loads(path.read_text())

    def _save(self, index: dict[str, Any]) -> None:
        temporary = self.folder / f"index.json.{uuid.uuid4().hex}"
        temporary.write_text(json.dumps(index))
        os.replace(temporary, self.folder / "index.json")

    def write_bytes(self, prepare: Callable[[int], StoredModel]) -> int:
        with self._locked():
            index = self._index()
            version = int(index["properties"].get("last-version", 0)) + 1
            stored = prepare(version)
            (self.folder / f"{version}.bin").write_bytes(stored.data)
            index["models"].append({**stored.metadata, "version": version})
            index["properties"]["last-version"] = str(version)
            self._save(index)
        return version

    def read_bytes(self, version: int | None) -> StoredModel:
        index = self._index()
        if version is None:
            if "active-model" not in index["properties"]:
                raise LookupError("No active model")
            version = int(index["properties"]["active-model"])
        entry = next((m for m in index["models"] if m["version"] == version), None)
        if entry is None:
            raise LookupError(f"No model with version {version}")
        return StoredModel(version, (self.folder / f"{version}.bin").read_bytes(), entry)

    def activate(self, version: int) -> None:
        with self._locked():
            index = self._index()
            if not any(m["version"] == version for m in index["models"]):
                raise LookupError(f"No model with version {version}")
            index["properties"]["active-model"] = str(version)
            self._save(index)

    def delete(self, version: int) -> None:
        with self._locked():
            index = self._index()
            entry = next((m for m in index["models"] if m["version"] == version), None)
            if entry is None:
                raise LookupError(f"No model with version {version}")
            index["models"].remove(entry)
            if index["properties"].get("active-model") == str(version):
                del index["properties"]["active-model"]
            self._save(index)
            (self.folder / f"{version}.bin").unlink()

    def list_models(self) -> list[dict[str, Any]]:
        return sorted(self._index()["models"], key=lambda m: m["version"])

    def list_properties(self) -> dict[str, str]:
        return dict(self._index()["properties"])
