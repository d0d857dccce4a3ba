"""``File``: the ``FileLike`` layout on the local file system (or any fsspec URL).

Writes go to a temporary file that is renamed into place, so readers never see half a file;
an ``flock`` on a lock file beside the metadata serialises writers across processes. Every
write of the store holds that lock, so a temporary file found while holding it belongs to a
write that was interrupted (a killed process): the next ``write`` removes it.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from pld_plugins.persistence.filelike import UNCONDITIONAL, FileLike, Tag
from pld_plugins.persistence.fsspec_files import fsspec_files, is_url

__all__ = ["File", "LocalFiles"]

logger = logging.getLogger(__name__)

#: What :meth:`LocalFiles.write` appends to a path for its temporary file.
TEMPORARY_SUFFIX = ".tmp-"
_TEMPORARY = re.escape(TEMPORARY_SUFFIX) + "[0-9a-f]{32}"

_process_locks: dict[str, threading.Lock] = {}


class LocalFiles:
    """:class:`~pld_plugins.persistence.filelike.StoreIO` for local paths."""

    def read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write(self, path: str, data: bytes) -> None:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        temporary = f"{path}{TEMPORARY_SUFFIX}{uuid.uuid4().hex}"
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

    def remove(self, path: str) -> None:
        with suppress(FileNotFoundError):
            os.remove(path)

    def read_tagged(self, path: str) -> tuple[bytes | None, Tag]:
        return self.read(path), UNCONDITIONAL  # the flock keeps everyone else out

    def write_if(self, path: str, data: bytes, expected: Tag) -> None:
        self.write(path, data)

    @contextmanager
    def locked(self, path: str) -> Iterator[None]:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if sys.platform == "win32":  # pragma: no cover -- no flock: serialise this process only
            with _process_locks.setdefault(os.path.abspath(path), threading.Lock()):
                yield
            return
        import fcntl

        with open(path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class File(FileLike):
    """Models as ``path.format(version=N) + '.pkl.gz'`` files; ``path`` needs ``{version}``."""

    def __init__(self, path: str, storage_options: dict[str, Any] | None = None) -> None:
        """``path`` may also be an fsspec URL (``s3://``, ``gcs://``, ``memory://``...);
        ``storage_options`` then go to that file system."""
        path = path.removeprefix("file://")
        self.remote = is_url(path)
        if self.remote:
            super().__init__(path, fsspec_files(path, storage_options or {}))
        elif storage_options:
            raise ValueError(f"storage options are for fsspec URLs, not the local path {path!r}")
        else:
            super().__init__(path, LocalFiles())

    def store_identity(self) -> str:
        """``file:<folder name>/<name pattern>``: the same wherever the folder is mounted."""
        if self.remote:  # <protocol>:<path>, whichever host serves it
            protocol, _, rest = self.path.partition("://")
            return f"{protocol}:{rest}"
        folder, pattern = os.path.split(os.path.abspath(self.path))
        return f"file:{os.path.basename(folder)}/{pattern}"

    def clean_up(self) -> None:
        """Remove the temporary files of interrupted writes: models and the metadata's.

        Called holding the store's lock, which every write holds, so no file removed here
        belongs to a write in progress.
        """
        if self.remote:  # fsspec writes whole objects: there are no temporaries
            return
        for stale in self.stale_temporaries():
            with suppress(FileNotFoundError):
                os.remove(stale)
            logger.info("Removed %s, left by an interrupted write", stale)

    def stale_temporaries(self) -> list[str]:
        """The temporary files of this store's models and metadata that exist now."""
        marker = "\0"
        template = self.path.format(version=marker)
        pattern = glob.escape(template).replace(marker, "*") + ".pkl.gz" + TEMPORARY_SUFFIX + "*"
        model = re.escape(template).replace(re.escape(marker), "[0-9]+") + re.escape(".pkl.gz")
        metadata = re.escape(self.metadata_path)
        wanted = re.compile(f"(?:{model}|{metadata}){_TEMPORARY}")
        found = glob.glob(pattern) + glob.glob(
            glob.escape(self.metadata_path) + TEMPORARY_SUFFIX + "*"
        )
        return sorted({path for path in found if wanted.fullmatch(path)})
