"""``File``: models as gzip pickles next to one JSON metadata file, in Palladium 1.2's layout.

Palladium's file persister let two writers pick the same version and reused the number of a
deleted newest model. Here a lock file serialises every read-modify-write of the metadata,
the highest version ever written is kept in the ``last-version`` property, and model and
metadata files are replaced atomically, so a crashed write never becomes a version.
"""

from __future__ import annotations

import json
import os
import string
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from pld_core import ModelPersister
from pld_plugins.persistence._common import (
    ACTIVE,
    DB_VERSION,
    DIGEST,
    FORMAT_VERSION,
    LAST_VERSION,
    as_version,
    digest_of,
    dump_model,
    jsonable,
    load_model,
    needs_step,
    no_active_model,
    no_such_version,
    restored_on_failure,
    stamp,
    to_json,
)

__all__ = ["File"]

_process_locks: dict[str, threading.Lock] = {}


class File(ModelPersister):
    """Store models at ``path.format(version=N) + '.pkl.gz'``; ``path`` needs ``{version}``.

    The metadata file is ``path.format(version='metadata') + '.json'``: with
    ``model-{version}.pickle`` that is ``model-1.pickle.pkl.gz`` and
    ``model-metadata.pickle.json``, exactly as Palladium names them.
    """

    def __init__(self, path: str) -> None:
        fields = {field for _, field, _, _ in string.Formatter().parse(path) if field is not None}
        if "version" not in fields:
            raise ValueError(
                f"the File persister's path must contain a {{version}} placeholder, "
                f"e.g. 'model-{{version}}.pickle'; got {path!r}"
            )
        try:
            path.format(version=1)
            metadata_path = path.format(version="metadata") + ".json"
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"the File persister's path may hold no placeholder but a plain {{version}}; "
                f"got {path!r} ({type(exc).__name__}: {exc})"
            ) from None
        self.path = path
        self.metadata_path = metadata_path
        self.lock_path = metadata_path + ".lock"

    def __repr__(self) -> str:
        return f"File({self.path!r})"

    def model_path(self, version: int) -> str:
        """The file holding model ``version``."""
        return self.path.format(version=version) + ".pkl.gz"

    # -- the persister interface ---------------------------------------------------------

    def read(self, version: int | None = None) -> Any:
        metadata = self._load()
        if version is None:
            active = metadata["properties"].get(ACTIVE)
            if active is None:
                raise no_active_model(self.path)
            version = as_version(active)
        else:
            version = as_version(version)
        entry = _find(metadata["models"], version)
        if entry is None:
            raise no_such_version(version, self.path)
        model_path = self.model_path(version)
        try:
            with open(model_path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise LookupError(
                f"Model version {version} is listed in {self.metadata_path} but its file "
                f"{model_path} is missing"
            ) from None
        return load_model(data, entry.get(DIGEST), f"model file {model_path}")

    def write(self, model: Any) -> int:
        with self._locked(), restored_on_failure(model):
            metadata = self._load()
            properties = metadata["properties"]
            known = [int(entry["version"]) for entry in metadata["models"]]
            version = max([int(properties.get(LAST_VERSION, 0)), *known]) + 1
            model_metadata = stamp(model, version)
            data = dump_model(model)
            _replace_atomically(self.model_path(version), data)  # before it becomes a version
            digest = digest_of(data)
            metadata["models"].append(jsonable({**model_metadata, DIGEST: digest}))
            properties[LAST_VERSION] = str(version)
            properties.setdefault(DB_VERSION, FORMAT_VERSION)
            self._save(metadata)
        model_metadata[DIGEST] = digest
        return version

    def activate(self, version: int) -> None:
        version = as_version(version)
        with self._locked():
            metadata = self._load()
            if _find(metadata["models"], version) is None:
                raise no_such_version(version, self.path)
            metadata["properties"][ACTIVE] = str(version)
            self._save(metadata)

    def delete(self, version: int) -> None:
        version = as_version(version)
        with self._locked():
            metadata = self._load()
            entry = _find(metadata["models"], version)
            if entry is None:
                raise no_such_version(version, self.path)
            properties = metadata["properties"]
            newest = max(int(m["version"]) for m in metadata["models"])
            # Stores written by Palladium have no last-version: remember the number now.
            properties[LAST_VERSION] = str(max(int(properties.get(LAST_VERSION, 0)), newest))
            metadata["models"].remove(entry)
            if properties.get(ACTIVE) == str(version):
                del properties[ACTIVE]
            self._save(metadata)
            with suppress(FileNotFoundError):
                os.remove(self.model_path(version))

    def list_models(self) -> list[dict[str, Any]]:
        return sorted(self._load()["models"], key=lambda entry: int(entry["version"]))

    def list_properties(self) -> dict[str, str]:
        return dict(self._load()["properties"])

    def upgrade(self, from_version: str | None = None, to_version: str | None = None) -> None:
        """Convert a pre-1.0 metadata file (a plain JSON list) and stamp ``db-version``."""
        with self._locked():
            legacy = self._load_raw()
            metadata = self._load()
            properties = metadata["properties"]
            current = "0.0" if isinstance(legacy, list) else properties.get(DB_VERSION)
            start = from_version if from_version is not None else current
            models = metadata["models"]
            if needs_step("1.0", start, to_version) and models and ACTIVE not in properties:
                properties[ACTIVE] = str(max(int(m["version"]) for m in models))
            properties[DB_VERSION] = to_version or FORMAT_VERSION
            self._save(metadata)

    # -- metadata file -------------------------------------------------------------------

    def _load_raw(self) -> Any:
        try:
            with open(self.metadata_path, "rb") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    def _load(self) -> dict[str, Any]:
        raw = self._load_raw()
        if raw is None:
            return {"models": [], "properties": {DB_VERSION: FORMAT_VERSION}}
        if isinstance(raw, list):  # the pre-1.0 layout; upgrade() rewrites it
            return {"models": raw, "properties": {}}
        metadata: dict[str, Any] = raw
        metadata.setdefault("models", [])
        metadata.setdefault("properties", {})
        return metadata

    def _save(self, metadata: dict[str, Any]) -> None:
        _replace_atomically(self.metadata_path, to_json(metadata, indent=4).encode("utf-8"))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the store's lock file: one read-modify-write of the metadata at a time."""
        directory = os.path.dirname(self.lock_path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if sys.platform == "win32":  # pragma: no cover -- no flock: serialise this process only
            lock = _process_locks.setdefault(os.path.abspath(self.lock_path), threading.Lock())
            with lock:
                yield
            return
        import fcntl

        with open(self.lock_path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _find(models: list[dict[str, Any]], version: int) -> dict[str, Any] | None:
    return next((entry for entry in models if int(entry["version"]) == version), None)


def _replace_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``."""
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.remove(temporary)
        raise
