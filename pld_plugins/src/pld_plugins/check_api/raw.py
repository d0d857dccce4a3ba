"""Answers as ``pld check-api`` checks them, bodies over the limit sent by hand, curl lines.

A body over the limit is sent on a bare socket: the service should answer 413 after the
headers and stop reading, and a client library that insists on sending the whole body first
would see a broken connection instead of that answer.
"""

from __future__ import annotations

import http.client
import json
import select
import shlex
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import schemathesis

JSON_MIMETYPE = "application/json"
_CHUNK = 2**20
#: Headers every request carries that a reader of a curl line does not need.
_ROUTINE_HEADERS = frozenset(
    {"user-agent", "accept-encoding", "accept", "connection", "content-length"}
    | {"x-schemathesis-testcaseid"}
)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True)
class Answer:
    """What came back for one request."""

    status: int
    headers: dict[str, str]
    content: bytes
    request: requests.PreparedRequest
    elapsed: float

    @classmethod
    def from_response(cls, response: requests.Response) -> Answer:
        return cls(
            response.status_code,
            dict(response.headers),
            response.content,
            response.request,
            response.elapsed.total_seconds(),
        )

    def content_type(self) -> str:
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                return value.split(";", 1)[0].strip().lower()
        return ""

    def is_json(self) -> bool:
        """Says JSON and is JSON (strict: ``NaN`` and ``Infinity`` are not)."""
        if self.content_type() != JSON_MIMETYPE:
            return False
        try:
            json.loads(self.content, parse_constant=_no_constant)
        except ValueError:
            return False
        return True

    def summary(self, size: int = 200) -> str:
        text = self.content[:size].decode("utf-8", "replace")
        more = "..." if len(self.content) > size else ""
        return f"answered {self.status} ({self.content_type() or 'no content type'}): {text}{more}"

    def as_schemathesis(self) -> schemathesis.Response:
        """The answer as schemathesis' checks take it."""
        headers = {name.lower(): [value] for name, value in self.headers.items()}
        return schemathesis.Response(
            status_code=self.status,
            headers=headers,
            content=self.content,
            request=self.request,
            elapsed=self.elapsed,
            verify=True,
        )


@dataclass(frozen=True)
class RawRequest:
    """A JSON request whose body is ``start`` padded with spaces to ``size`` bytes."""

    method: str
    url: str
    start: bytes
    size: int
    chunked: bool = False
    content_type: str = JSON_MIMETYPE

    def curl(self) -> str:
        framing = ["-H", "Transfer-Encoding: chunked"] if self.chunked else []
        command = [
            *("curl", "-X", self.method, self.url),
            *("-H", f"Content-Type: {self.content_type}", *framing, "--data-binary", "@-"),
        ]
        padding = f"head -c {self.size - len(self.start)} /dev/zero | tr '\\0' ' '"
        start = shlex.quote(self.start.decode("utf-8", "replace"))
        return f"{{ printf '%s' {start}; {padding}; }} | {shlex.join(command)}"

    def head(self) -> bytes:
        parts = urlsplit(self.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        framing = "Transfer-Encoding: chunked" if self.chunked else f"Content-Length: {self.size}"
        return (
            f"{self.method} {target or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: {self.content_type}\r\n{framing}\r\nConnection: close\r\n\r\n"
        ).encode()

    def body(self) -> Iterator[bytes]:
        """The body in pieces, framed as chunks when ``chunked``."""
        for piece in self._pieces():
            yield b"%x\r\n%s\r\n" % (len(piece), piece) if self.chunked else piece
        if self.chunked:
            yield b"0\r\n\r\n"

    def _pieces(self) -> Iterator[bytes]:
        yield self.start
        left = self.size - len(self.start)
        while left > 0:
            piece = b" " * min(_CHUNK, left)
            left -= len(piece)
            yield piece


def send_raw(raw: RawRequest, timeout: float) -> Answer:
    """Send ``raw``; stop sending as soon as the service answers; return the answer.

    :raises OSError: no answer came (refused, reset before answering, timed out).
    """
    parts = urlsplit(raw.url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    started = time.monotonic()
    deadline = started + timeout
    sock: socket.socket = socket.create_connection((parts.hostname or "", port), timeout)
    if secure:
        context = ssl.create_default_context()
        sock = context.wrap_socket(sock, server_hostname=parts.hostname)
    with sock:
        sock.sendall(raw.head())
        _send_until_answered(sock, raw.body(), deadline)
        sock.setblocking(True)
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        response = http.client.HTTPResponse(sock, method=raw.method)
        try:
            response.begin()
            content = response.read()
        except http.client.HTTPException as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from None
        headers = {name: value for name, value in response.getheaders()}
    request = requests.Request(raw.method, raw.url, {"Content-Type": raw.content_type}).prepare()
    return Answer(response.status, headers, content, request, time.monotonic() - started)


def _send_until_answered(sock: socket.socket, pieces: Iterator[bytes], deadline: float) -> None:
    """Send ``pieces`` until they are all sent, the service answers or stops reading."""
    sock.setblocking(False)
    pending = memoryview(b"")
    while True:
        if not pending:
            piece = next(pieces, None)
            if piece is None:
                return
            pending = memoryview(piece)
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the service neither read the body nor answered")
        readable, writable, _ = select.select([sock], [sock], [], left)
        if readable:  # an answer (or the end of the connection): stop sending
            return
        if writable:
            try:
                pending = pending[sock.send(pending) :]
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except (BrokenPipeError, ConnectionResetError):
                return  # it stopped reading; its answer may be waiting


def curl_line(request: requests.PreparedRequest) -> str:
    """A curl command that sends ``request`` again."""
    words = ["curl", "-X", request.method or "GET", shlex.quote(request.url or "")]
    for name, value in request.headers.items():
        if name.lower() not in _ROUTINE_HEADERS:
            words += ["-H", shlex.quote(f"{name}: {value}")]
    body = request.body
    if body:
        data = body.encode() if isinstance(body, str) else bytes(body)
        words += ["--data-binary", _shell_bytes(data)]
    return " ".join(words)


def generated_body_curl(method: str, url: str, headers: dict[str, str], expression: str) -> str:
    """A curl command whose body a Python expression writes (for bodies too big to show)."""
    writer = shlex.quote(f"import sys; sys.stdout.write({expression})")
    command = ["curl", "-X", method, url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return f"python3 -c {writer} | {shlex.join([*command, '--data-binary', '@-'])}"


def _shell_bytes(data: bytes) -> str:
    """``data`` as one shell word: quoted text, or bash's ``$'...'`` for other bytes."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text and all(c.isprintable() or c in "\t" for c in text):
        return shlex.quote(text)
    escaped = "".join(
        chr(byte) if 32 <= byte < 127 and chr(byte) not in "\\'" else f"\\x{byte:02x}"
        for byte in data
    )
    return f"$'{escaped}'"
