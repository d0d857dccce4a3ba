"""The ``Rest`` persister against a real HTTP store on 127.0.0.1 (a small Werkzeug app)."""

from __future__ import annotations

import hashlib
import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from pld_core import PldError
from pld_core.testing import PersisterContract, contract_model
from pld_plugins.persistence.rest import Rest


class Store:
    """Keeps PUT bodies by path; GET/DELETE them; Basic Auth and forced failures on demand.

    Like a WebDAV server it sends ETags and honours ``If-Match`` and ``If-None-Match: *`` on
    PUT (412 when they fail), checking and writing under one lock: the server serialises.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.credentials: tuple[str, str] | None = None
        self.fail_with: int | None = None
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requests.append((request.method, request.path))
        with self.lock:
            response = self.answer(request)
        return response(environ, start_response)

    def answer(self, request: Request) -> Response:
        if self.credentials is not None:
            auth = request.authorization
            if auth is None or (auth.username, auth.password) != self.credentials:
                return Response("no", status=401, headers={"WWW-Authenticate": "Basic"})
        if self.fail_with is not None:
            return Response("broken", status=self.fail_with)
        current = self.files.get(request.path)
        if request.method == "PUT":
            if_match, if_none_match = request.headers.get("If-Match"), request.if_none_match
            if if_none_match.star_tag and current is not None:
                return Response("exists", status=412)
            if if_match is not None and (current is None or if_match != etag(current)):
                return Response("changed", status=412)
            self.files[request.path] = request.get_data()
            return Response(status=201)
        if current is None:
            return Response(status=404)
        if request.method == "DELETE":
            del self.files[request.path]
            return Response(status=204)
        return Response(
            current, mimetype="application/octet-stream", headers={"ETag": etag(current)}
        )


def etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:16] + '"'


@pytest.fixture
def store():
    app = Store()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.base = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class TestRestContract(PersisterContract):
    @pytest.fixture
    def persister(self, store):
        store.credentials = ("user", "secret")
        return Rest(store.base + "/repo/model-{version}", auth=("user", "secret"))

    @pytest.fixture
    def reopen(self):
        return lambda persister: Rest(persister.url, auth=("user", "secret"))


def test_layout_on_the_server_is_palladiums(store):
    persister = Rest(store.base + "/repo/model-{version}")
    version = persister.write(contract_model(3))
    persister.activate(version)
    assert sorted(store.files) == ["/repo/model-1.pkl.gz", "/repo/model-metadata.json"]
    persister.delete(1)
    assert sorted(store.files) == ["/repo/model-metadata.json"]
    assert ("DELETE", "/repo/model-1.pkl.gz") in store.requests


def test_wrong_credentials_are_one_clear_error(store):
    store.credentials = ("user", "secret")
    persister = Rest(store.base + "/m-{version}", auth=("user", "guess"))
    with pytest.raises(PldError, match=r"refused the credentials \(401 UNAUTHORIZED\)"):
        persister.write(contract_model(1))
    assert store.files == {}
    anonymous = Rest(store.base + "/m-{version}")
    with pytest.raises(PldError, match="refused the credentials"):
        anonymous.list_models()


def test_server_errors_lose_nothing(store):
    persister = Rest(store.base + "/m-{version}")
    persister.activate(persister.write(contract_model(1)))
    before = dict(store.files)
    store.fail_with = 500
    with pytest.raises(PldError, match=r"answered 500 INTERNAL SERVER ERROR"):
        persister.write(contract_model(2))
    with pytest.raises(PldError, match="answered 500"):
        persister.read()
    store.fail_with = None
    assert store.files == before
    assert persister.read().value == 1
    assert persister.write(contract_model(2)) == 2


def test_unreachable_server_is_one_clear_error():
    from werkzeug.serving import make_server as probe

    server = probe("127.0.0.1", 0, lambda e, s: [])
    port = server.server_port
    server.server_close()  # nothing listens there now
    persister = Rest(f"http://127.0.0.1:{port}/m-{{version}}", timeout=2)
    with pytest.raises(PldError, match=r"GET http://127.0.0.1:\d+/m-metadata.json failed"):
        persister.list_models()
