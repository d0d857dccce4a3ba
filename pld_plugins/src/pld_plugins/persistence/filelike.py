"""``FileLike``: models as gzip pickles beside one JSON metadata document, Palladium's layout.

The layout is the same wherever the bytes live; a small I/O object (:class:`StoreIO`) says
how to read, write, remove and lock: the local file system for ``File``, HTTP for ``Rest``.

Palladium's file persister let two writers pick the same version and reused the number of a
deleted newest model. Here the store's lock serialises every read-modify-write of the
metadata, the highest version ever written is kept in the ``last-version`` property, and the
model is stored before the metadata names it, so a crashed write never becomes a version.

Where the lock cannot span processes (HTTP has none), every change of the metadata is a
conditional write: it succeeds only if the document is still the one that was read (an
ETag), and is otherwise done again from a fresh read; a model file is only created, never
overwritten. So ``activate`` of a version being deleted fails instead of naming it, and two
writers never share a version, on any store that honours ``If-Match``/``If-None-Match``.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import random
import string
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from pld_core import ATTACHMENT_PREFIX, ATTACHMENTS, ModelStore, PldError, StoredModel
from pld_plugins.persistence._common import (
    ACTIVE,
    DB_VERSION,
    FORMAT_VERSION,
    LAST_VERSION,
    as_version,
    jsonable,
    needs_step,
    no_active_model,
    no_such_version,
    to_json,
)

__all__ = ["FileLike", "StoreConflict", "StoreIO"]

_T = TypeVar("_T")
logger = logging.getLogger(__name__)
_CHANGE_ATTEMPTS = 20


class StoreConflict(Exception):
    """A conditional write found the document changed (or present) since it was read."""


class Tag:
    """What a conditional write expects at a path: absent, or holding bytes with ``etag``."""

    def __init__(self, etag: str | None, absent: bool) -> None:
        self.etag = etag
        self.absent = absent


#: Write whatever is there: no condition.
UNCONDITIONAL = Tag(None, absent=False)
#: Write only where nothing is yet.
ABSENT = Tag(None, absent=True)


class StoreIO(Protocol):
    """Where a :class:`FileLike` store's bytes live."""

    def read(self, path: str) -> bytes | None:
        """The bytes at ``path``, or ``None`` when there are none."""

    def write(self, path: str, data: bytes) -> None:
        """Replace what is at ``path`` with ``data``, all at once."""

    def remove(self, path: str) -> None:
        """Remove ``path``; a missing one is fine."""

    def locked(self, path: str) -> AbstractContextManager[None]:
        """Hold the store's lock named ``path`` for one read-modify-write."""

    def read_tagged(self, path: str) -> tuple[bytes | None, Tag]:
        """:meth:`read`, with the :class:`Tag` a conditional write of ``path`` expects."""

    def write_if(self, path: str, data: bytes, expected: Tag) -> None:
        """:meth:`write` if ``path`` is still as ``expected``, else raise StoreConflict.

        A store whose lock spans processes may ignore ``expected``: nobody else writes.
        """


class FileLike(ModelStore):
    """Models at ``path.format(version=N) + '.pkl.gz'``; ``path`` needs ``{version}``.

    The metadata document is ``path.format(version='metadata') + '.json'``: with
    ``model-{version}.pickle`` that is ``model-1.pickle.pkl.gz`` and
    ``model-metadata.pickle.json``, exactly as Palladium names them.
    """

    def __init__(self, path: str, io: StoreIO) -> None:
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
        self.io = io
        self.metadata_path = metadata_path
        self.lock_path = metadata_path + ".lock"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def model_path(self, version: int) -> str:
        """The file holding model ``version``."""
        return self.path.format(version=version) + ".pkl.gz"

    def attachment_path(self, version: int, key: str) -> str:
        """The file holding attachment ``key`` (``attachments/<name>``) of ``version``:
        ``path.format(version=N) + '-<name>'``, as Palladium 1.2.3 names it."""
        return self.path.format(version=version) + "-" + key[len(ATTACHMENT_PREFIX) :]

    # -- the persister interface ---------------------------------------------------------

    def read_bytes(self, version: int | None) -> StoredModel:
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
        data = self.io.read(model_path)
        if data is None:
            raise LookupError(
                f"Model version {version} is listed in {self.metadata_path} but its file "
                f"{model_path} is missing"
            ) from None
        return StoredModel(version, data, self._with_attachments(version, entry))

    def _with_attachments(self, version: int, entry: dict[str, Any]) -> dict[str, Any]:
        """``entry`` with the attachments it lists read back from their files (base64)."""
        metadata = dict(entry)
        for key in _attachment_keys(entry):
            raw = self.io.read(self.attachment_path(version, key))
            if raw is None:
                logger.warning("model version %s: attachment file of %r is missing", version, key)
                continue
            metadata[key] = base64.b64encode(raw).decode("ascii")
        return metadata

    def write_bytes(self, prepare: Callable[[int], StoredModel]) -> int:
        with self._locked():
            self.clean_up()
            taken = 0  # a model file already there, e.g. another process's, is skipped
            for _attempt in range(_CHANGE_ATTEMPTS):
                metadata, _tag = self._load_tagged()
                properties = metadata["properties"]
                known = [int(entry["version"]) for entry in metadata["models"]]
                version = max([int(properties.get(LAST_VERSION, 0)), taken, *known]) + 1
                stored = prepare(version)
                try:  # before it becomes a version
                    self.io.write_if(self.model_path(version), stored.data, ABSENT)
                except StoreConflict:
                    taken = version
                    continue
                entry = jsonable({**stored.metadata, "version": version})
                for key in [k for k in entry if k.startswith(ATTACHMENT_PREFIX)]:
                    # its own file, kept out of the metadata document (Palladium's layout)
                    data = base64.b64decode(entry.pop(key))
                    self.io.write(self.attachment_path(version, key), data)
                self._change(functools.partial(_add, entry=entry, version=version))
                return version
        raise self._busy()

    def clean_up(self) -> None:
        """Remove what interrupted writes left behind; called holding the store's lock."""

    def activate(self, version: int) -> None:
        version = as_version(version)

        def change(metadata: dict[str, Any]) -> None:
            if _find(metadata["models"], version) is None:
                raise no_such_version(version, self.path)
            metadata["properties"][ACTIVE] = str(version)

        with self._locked():
            self._change(change)

    def delete(self, version: int) -> None:
        version = as_version(version)
        attachments: list[str] = []

        def change(metadata: dict[str, Any]) -> None:
            entry = _find(metadata["models"], version)
            if entry is None:
                raise no_such_version(version, self.path)
            attachments[:] = _attachment_keys(entry)
            properties = metadata["properties"]
            newest = max(int(m["version"]) for m in metadata["models"])
            # Stores written by Palladium have no last-version: remember the number now.
            properties[LAST_VERSION] = str(max(int(properties.get(LAST_VERSION, 0)), newest))
            metadata["models"].remove(entry)
            if properties.get(ACTIVE) == str(version):
                del properties[ACTIVE]

        with self._locked():
            self._change(change)
            self.io.remove(self.model_path(version))
            for key in attachments:
                self.io.remove(self.attachment_path(version, key))

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
        data = self.io.read(self.metadata_path)
        return None if data is None else json.loads(data)

    def _load(self) -> dict[str, Any]:
        return self._parse(self._load_raw())

    def _load_tagged(self) -> tuple[dict[str, Any], Tag]:
        data, tag = self.io.read_tagged(self.metadata_path)
        return self._parse(None if data is None else json.loads(data)), tag

    def _parse(self, raw: Any) -> dict[str, Any]:
        if raw is None:
            return {"models": [], "properties": {DB_VERSION: FORMAT_VERSION}}
        if isinstance(raw, list):  # the pre-1.0 layout; upgrade() rewrites it
            return {"models": raw, "properties": {}}
        metadata: dict[str, Any] = raw
        metadata.setdefault("models", [])
        metadata.setdefault("properties", {})
        return metadata

    def _save(self, metadata: dict[str, Any]) -> None:
        self.io.write(self.metadata_path, to_json(metadata, indent=4).encode("utf-8"))

    def _change(self, change: Callable[[dict[str, Any]], _T]) -> _T:
        """Apply ``change`` to the metadata and save it, only over the document it read.

        When another process saved in between, read again and apply ``change`` again, so
        its checks (does the version exist?) see what is really there.
        """
        for attempt in range(1, _CHANGE_ATTEMPTS + 1):
            metadata, tag = self._load_tagged()
            result = change(metadata)
            data = to_json(metadata, indent=4).encode("utf-8")
            try:
                self.io.write_if(self.metadata_path, data, tag)
            except StoreConflict:
                time.sleep(random.uniform(0.005, 0.02) * attempt)
                continue
            return result
        raise self._busy()

    def _busy(self) -> PldError:
        return PldError(
            f"{self.metadata_path} changed under every one of {_CHANGE_ATTEMPTS} attempts to "
            "update it; too many processes are writing to this store at once"
        )

    def _locked(self) -> AbstractContextManager[None]:
        return self.io.locked(self.lock_path)


def _add(metadata: dict[str, Any], *, entry: dict[str, Any], version: int) -> None:
    """Record the stored ``version`` in ``metadata``."""
    properties = metadata["properties"]
    metadata["models"].append(entry)
    properties[LAST_VERSION] = str(max(int(properties.get(LAST_VERSION, 0)), version))
    properties.setdefault(DB_VERSION, FORMAT_VERSION)


def _attachment_keys(entry: dict[str, Any]) -> list[str]:
    """The attachments ``entry`` lists (``__attachments__``), file names without folders."""
    keys = entry.get(ATTACHMENTS) or []
    return [
        key
        for key in keys
        if isinstance(key, str)
        and key.startswith(ATTACHMENT_PREFIX)
        and len(key) > len(ATTACHMENT_PREFIX)
        and not any(c in key[len(ATTACHMENT_PREFIX) :] for c in "/\\")
    ]


def _find(models: list[dict[str, Any]], version: int) -> dict[str, Any] | None:
    return next((entry for entry in models if int(entry["version"]) == version), None)
