"""The ``s3`` persister against a real S3-compatible server on 127.0.0.1 (moto's server mode):
the persister contract, Palladium's name, configs and the errors a user sees."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from pld_core import PldError, load_config
from pld_core.testing import PersisterContract, contract_model, free_port

pytest.importorskip("s3fs", reason="s3fs is not installed (pld-plugins[s3])")
if importlib.util.find_spec("moto") is None:  # run as a server: not imported here
    pytest.skip("moto[server] is not installed", allow_module_level=True)

from pld_plugins.persistence.s3 import S3  # noqa: E402 -- after the skips

CREDENTIALS = {
    "key": "testing",
    "secret": "testing",
    "client_kwargs": {"region_name": "eu-central-1"},
}
_buckets = itertools.count(1)

# moto's server handles requests on threads and checks If-None-Match/If-Match apart from the
# write that follows, so two conditional PUTs can both pass; S3 itself decides each one
# atomically. One request at a time gives the server S3's guarantee, which the store's
# concurrency tests rely on (under load, the unserialised server handed out a version twice).
_SERIAL_MOTO = """
import sys, threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()

def serial(environ, start_response):
    with one_at_a_time:
        return list(app(environ, start_response))

run_simple(sys.argv[1], int(sys.argv[2]), serial, threaded=True)
"""


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free port of 127.0.0.1, one request at a time, for this module."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _SERIAL_MOTO, "127.0.0.1", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "moto's server exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto's server did not listen in 60 s"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def bucket(s3_server: str) -> str:
    """A fresh, empty bucket."""
    import s3fs

    name = f"pld-test-{next(_buckets)}-{time.monotonic_ns()}"
    s3fs.S3FileSystem(endpoint_url=s3_server, **CREDENTIALS).mkdir(name)
    return name


def make_s3(server: str, path: str) -> S3:
    return S3(path, endpoint_url=server, **CREDENTIALS)


class TestS3Contract(PersisterContract):
    @pytest.fixture
    def persister(self, s3_server: str, bucket: str) -> S3:
        return make_s3(s3_server, f"s3://{bucket}/models/model-{{version}}")

    @pytest.fixture
    def reopen(self, s3_server: str):
        return lambda persister: make_s3(s3_server, persister.path)

    @pytest.fixture
    def open_store(self, s3_server: str, persister: S3):
        # the class itself: the workers cannot import this test module
        return functools.partial(S3, persister.path, endpoint_url=s3_server, **CREDENTIALS)


def test_palladium_layout_in_the_bucket(s3_server: str, bucket: str) -> None:
    import s3fs

    store = make_s3(s3_server, f"{bucket}/model-{{version}}")  # no s3://, as Palladium's docs
    store.activate(store.write(contract_model(5)))
    fs = s3fs.S3FileSystem(endpoint_url=s3_server, **CREDENTIALS)
    assert sorted(fs.ls(bucket)) == [f"{bucket}/model-1.pkl.gz", f"{bucket}/model-metadata.json"]
    assert store.read().value == 5
    assert store.store_identity() == f"s3:{bucket}/model-{{version}}"


def test_config_with_palladiums_name(tmp_path, s3_server: str, bucket: str) -> None:
    config = tmp_path / "config.py"
    config.write_text(
        "{'model_persister': {'__factory__': 'palladium.persistence.S3',"
        f" 'path': 's3://{bucket}/model-{{version}}', 'endpoint_url': {s3_server!r},"
        f" 'key': 'testing', 'secret': 'testing'}}}}"
    )
    persister = load_config(str(config), __mode__="fit")["model_persister"]
    assert isinstance(persister, S3)
    assert persister.list_models() == []


def test_a_server_that_is_down_is_one_line(bucket: str) -> None:
    store = S3(
        f"s3://{bucket}/model-{{version}}",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        retries=1,
        config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 2},
        **CREDENTIALS,
    )
    with pytest.raises(PldError, match=r"^reading s3://.*model-metadata\.json failed: "):
        store.list_models()


def test_file_persister_with_an_s3_url_shares_the_store(s3_server: str, bucket: str) -> None:
    from pld_plugins.persistence.file import File

    path = f"s3://{bucket}/shared/model-{{version}}"
    as_file = File(path, {"endpoint_url": s3_server, **CREDENTIALS})
    as_file.activate(as_file.write(contract_model(7)))
    as_s3 = make_s3(s3_server, path)
    assert as_s3.read().value == 7
    assert as_file.store_identity() == as_s3.store_identity()
