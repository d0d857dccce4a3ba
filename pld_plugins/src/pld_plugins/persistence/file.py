"""``File``: the ``FileLike`` layout on the local file system.

Writes go to a temporary file that is renamed into place, so readers never see half a file;
an ``flock`` on a lock file beside the metadata serialises writers across processes.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from pld_plugins.persistence.filelike import FileLike

__all__ = ["File", "LocalFiles"]

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

    def remove(self, path: str) -> None:
        with suppress(FileNotFoundError):
            os.remove(path)

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

    def __init__(self, path: str) -> None:
        super().__init__(path, LocalFiles())

    def store_identity(self) -> str:
        """``file:<folder name>/<name pattern>``: the same wherever the folder is mounted."""
        folder, pattern = os.path.split(os.path.abspath(self.path))
        return f"file:{os.path.basename(folder)}/{pattern}"
