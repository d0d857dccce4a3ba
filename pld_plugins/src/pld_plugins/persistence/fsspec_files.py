"""The ``FileLike`` layout on any fsspec file system: S3, GCS, Azure, SFTP, memory, ...

:func:`fsspec_files` picks the :class:`~pld_plugins.persistence.filelike.StoreIO` for a URL.
S3 gets conditional writes (``If-Match`` with the ETag read, ``If-None-Match: *`` for a new
model), so processes writing to one bucket at once cannot lose each other's changes, as with
``Rest``. Other file systems have no such condition: there, changes are serialised within one
process only, and the store should have one writer at a time.

fsspec and the file system's own package (``s3fs`` for ``s3://``) are imported when the store
is first used, so configs that do not use them never import them.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pld_core import PldError
from pld_plugins.persistence.filelike import ABSENT, UNCONDITIONAL, StoreConflict, Tag

__all__ = ["FsspecFiles", "S3Files", "StoreError", "fsspec_files", "is_url"]

_locks: dict[str, threading.Lock] = {}
_S3 = ("s3", "s3a")
_READ_ATTEMPTS = 10


class StoreError(PldError):
    """The file system refused or failed an operation."""


def is_url(path: str) -> bool:
    """Whether ``path`` names a file system other than the local one (``s3://...``)."""
    protocol, separator, _ = path.partition("://")
    return bool(separator) and protocol not in ("", "file", "local")


def fsspec_files(path: str, storage_options: dict[str, Any]) -> FsspecFiles:
    """The store I/O for the URL ``path``; ``storage_options`` go to the file system."""
    protocol = path.partition("://")[0]
    if protocol in _S3:
        return S3Files(protocol, storage_options)
    return FsspecFiles(protocol, storage_options)


class FsspecFiles:
    """:class:`~pld_plugins.persistence.filelike.StoreIO` over one fsspec file system.

    Picklable: the file system is made on first use, in each process.
    """

    def __init__(self, protocol: str, storage_options: dict[str, Any]) -> None:
        self.protocol = protocol
        self.storage_options = dict(storage_options)
        self._fs: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fs": None}

    @property
    def fs(self) -> Any:
        if self._fs is None:
            try:
                import fsspec

                self._fs = fsspec.filesystem(self.protocol, **self.storage_options)
            except ImportError as exc:
                raise StoreError(
                    f"{self.protocol}:// stores need fsspec and its {self.protocol} package: "
                    f"{exc} (pip install 'pld-plugins[s3]' for S3)"
                ) from None
            except (TypeError, ValueError) as exc:
                raise StoreError(f"{self.protocol}:// storage options: {exc}") from None
        return self._fs

    def _failed(self, action: str, path: str, exc: Exception) -> StoreError:
        return StoreError(f"{action} {path} failed: {type(exc).__name__}: {exc}")

    def read(self, path: str) -> bytes | None:
        try:
            data: bytes = self.fs.cat_file(path)
        except FileNotFoundError:
            return None
        except Exception as exc:  # OSError, and botocore's errors that s3fs passes on
            raise self._failed("reading", path, exc) from None
        return data

    def write(self, path: str, data: bytes) -> None:
        try:
            self.fs.pipe_file(path, data)
        except Exception as exc:
            raise self._failed("writing", path, exc) from None

    def remove(self, path: str) -> None:
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._failed("removing", path, exc) from None

    def read_tagged(self, path: str) -> tuple[bytes | None, Tag]:
        data = self.read(path)
        return data, ABSENT if data is None else UNCONDITIONAL

    def write_if(self, path: str, data: bytes, expected: Tag) -> None:
        self.write(path, data)  # no condition to give: the process lock serialises

    @contextmanager
    def locked(self, path: str) -> Iterator[None]:
        with _locks.setdefault(f"{self.protocol}://{path}", threading.Lock()):
            yield


class S3Files(FsspecFiles):
    """S3 through s3fs, with conditional writes on the object's ETag."""

    def read_tagged(self, path: str) -> tuple[bytes | None, Tag]:
        # A GET and a HEAD are two requests: the ETag is the one of these bytes only when it
        # is their MD5 (always so for the single PUTs that write the metadata).
        for _attempt in range(_READ_ATTEMPTS):
            data = self.read(path)
            if data is None:
                return None, ABSENT
            try:
                self.fs.invalidate_cache(path)
                etag = str(self.fs.info(path).get("ETag") or "").strip('"')
            except FileNotFoundError:
                continue  # removed in between: read again
            except Exception as exc:
                raise self._failed("reading", path, exc) from None
            if not etag:
                return data, UNCONDITIONAL
            if "-" in etag or etag == hashlib.md5(data, usedforsecurity=False).hexdigest():
                return data, Tag(f'"{etag}"', absent=False)
        raise StoreError(f"{path} changed under every one of {_READ_ATTEMPTS} reads")

    def write_if(self, path: str, data: bytes, expected: Tag) -> None:
        condition: dict[str, str] = {}
        if expected.absent:
            condition["IfNoneMatch"] = "*"
        elif expected.etag is not None:
            condition["IfMatch"] = expected.etag
        try:
            self.fs.pipe_file(path, data, **condition)
        except Exception as exc:
            if _precondition_failed(exc):
                raise StoreConflict(f"{path}: changed since it was read") from None
            raise self._failed("writing", path, exc) from None


def _precondition_failed(exc: BaseException) -> bool:
    """Whether S3 answered 412 Precondition Failed (s3fs wraps botocore's error)."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            error = response.get("Error") or {}
            status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
            if error.get("Code") in ("PreconditionFailed", "412") or status == 412:
                return True
        if "PreconditionFailed" in str(seen) or "Precondition Failed" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
