"""``Rest``: the ``FileLike`` layout on an HTTP server (Artifactory, a WebDAV share, ...).

Models and metadata are plain resources: GET reads, PUT writes, DELETE removes. HTTP has no
lock, so the server serialises changes instead: a PUT of the metadata carries ``If-Match``
with the ETag its GET answered (``If-None-Match: *`` while there is none), a PUT of a new
model ``If-None-Match: *``, and a ``412 Precondition Failed`` makes pld read again and redo
the change. With a server that honours these headers (WebDAV servers, nginx's dav module,
most object stores), processes writing, activating and deleting at once cannot lose each
other's changes; with one that sends no ETags, only one process's changes are serialised.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import urlsplit

from pld_core import PldError
from pld_plugins.persistence.filelike import ABSENT, UNCONDITIONAL, FileLike, StoreConflict, Tag

__all__ = ["HttpFiles", "Rest", "RestStoreError"]

_locks: dict[str, threading.Lock] = {}


class RestStoreError(PldError):
    """The REST store refused or failed a request."""


class HttpFiles:
    """:class:`~pld_plugins.persistence.filelike.StoreIO` over HTTP with ``requests``."""

    def __init__(self, auth: Sequence[str] | None, timeout: float) -> None:
        self.auth = tuple(auth) if auth is not None else None
        self.timeout = timeout
        self._session: Any = None

    @property
    def session(self) -> Any:
        if self._session is None:
            import requests

            session = requests.Session()
            if self.auth is not None:
                # a (user, password) pair is HTTP Basic Auth
                session.auth = cast(tuple[str, str], self.auth)
            self._session = session
        return self._session

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        import requests

        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise RestStoreError(f"{method} {url} failed: {type(exc).__name__}: {exc}") from None
        if response.status_code in (401, 403):
            raise RestStoreError(
                f"{method} {url}: the REST store refused the credentials "
                f"({response.status_code} {response.reason})"
            )
        return response

    def _check(self, response: Any, method: str, url: str) -> None:
        if response.status_code >= 400:
            raise RestStoreError(
                f"{method} {url}: the REST store answered {response.status_code} {response.reason}"
            )

    def read(self, path: str) -> bytes | None:
        return self.read_tagged(path)[0]

    def read_tagged(self, path: str) -> tuple[bytes | None, Tag]:
        response = self._request("GET", path)
        if response.status_code == 404:
            return None, ABSENT
        self._check(response, "GET", path)
        content: bytes = response.content
        etag = response.headers.get("ETag")
        return content, Tag(etag, absent=False) if etag else UNCONDITIONAL

    def write_if(self, path: str, data: bytes, expected: Tag) -> None:
        headers = {}
        if expected.absent:
            headers["If-None-Match"] = "*"
        elif expected.etag is not None:
            headers["If-Match"] = expected.etag
        response = self._request("PUT", path, data=data, headers=headers)
        if response.status_code == 412:
            raise StoreConflict(f"PUT {path}: changed since it was read")
        self._check(response, "PUT", path)

    def write(self, path: str, data: bytes) -> None:
        self._check(self._request("PUT", path, data=data), "PUT", path)

    def remove(self, path: str) -> None:
        response = self._request("DELETE", path)
        if response.status_code != 404:
            self._check(response, "DELETE", path)

    @contextmanager
    def locked(self, path: str) -> Iterator[None]:
        with _locks.setdefault(path, threading.Lock()):
            yield


class Rest(FileLike):
    """Models at ``url.format(version=N) + '.pkl.gz'`` on an HTTP server.

    :param url: URL template with ``{version}``, e.g. ``http://host/repo/model-{version}``.
    :param auth: ``(user, password)`` for HTTP Basic Auth, or ``None``.
    :param timeout: seconds to wait for the server on each request.
    """

    def __init__(self, url: str, auth: Sequence[str] | None = None, timeout: float = 30.0):
        super().__init__(url, HttpFiles(auth, timeout))
        self.url = url

    def store_identity(self) -> str:
        """``rest:<URL path>``: the same whichever host name or port clients reach it by."""
        return "rest:" + urlsplit(self.url).path
