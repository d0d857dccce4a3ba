"""Request limits: a body over ``limits.max_body_bytes`` or a POST over ``limits.max_rows`` is a
413 JSON answer, decided before the body is read or parsed; JSON nested too deep is a 400."""

from __future__ import annotations

import io
import json
import os
import socket
import sys
import threading
from pathlib import Path

import psutil
import pytest
from werkzeug.test import Client, EnvironBuilder

from pld_core import ConfigError, create_app, load_config, process_store
from pld_core.testing import free_port, http_json, running_server

QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
SAMPLE = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}
RULES = """
    'rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/activate', 'view_func': 'activate', 'methods': ['POST']},
    ],"""


def _refused(answer, status: int, text: str) -> None:
    assert answer.status_code == status and answer.mimetype == "application/json"
    metadata = answer.json["metadata"]
    assert metadata["status"] == "ERROR" and text in metadata["error_message"], metadata


@pytest.fixture
def small_limits(fitted_iris, write_iris_config):
    limits = "\n    'limits': {'max_body_bytes': 2000, 'max_rows': 5},"
    return Client(create_app(load_config(str(write_iris_config(RULES + limits)))))


def test_a_body_over_the_limit_is_refused_unread_on_every_endpoint(small_limits):
    big = json.dumps([SAMPLE] * 40)  # about 4,000 bytes
    _refused(
        small_limits.post("/predict", data=big, content_type="application/json"),
        413,
        "RequestEntityTooLarge: the body has",
    )
    _refused(small_limits.post("/fit", data={"evaluate": "x" * 3000}), 413, "at most 2000")
    _refused(small_limits.post("/activate", data={"model_version": "1" * 3000}), 413, "2000")
    assert not process_store.get("process_metadata", {}).get("jobs")  # no fit was started
    ok = small_limits.post("/predict", json=[SAMPLE] * 5)
    assert ok.status_code == 200 and ok.json["result"] == ["Iris-versicolor"] * 5


def test_a_chunked_body_is_cut_off_at_the_limit(small_limits):
    body = json.dumps([SAMPLE] * 40).encode()
    environ = EnvironBuilder(
        path="/predict", method="POST", content_type="application/json"
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)  # as a chunked request arrives: no length given
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True  # the server ends the stream (gunicorn does)
    _refused(small_limits.open(environ), 413, "RequestEntityTooLarge")


def test_too_many_rows_are_refused(small_limits):
    _refused(
        small_limits.post("/predict", json=[SAMPLE] * 6),
        413,
        "RequestEntityTooLarge: 6 samples in one request; at most 5",
    )


def test_json_nested_too_deep_is_a_400_and_starts_no_job(fitted_iris, write_iris_config):
    client = Client(create_app(load_config(str(write_iris_config(RULES)))))
    deep = "[" * 100_000 + "]" * 100_000
    _refused(
        client.post("/fit", data=deep, content_type="application/json"),
        400,
        "the JSON body is not valid JSON",
    )
    _refused(
        client.post("/predict", data=deep, content_type="application/json"),
        400,
        "BadRequest: the body is not valid JSON",
    )
    assert not process_store.get("process_metadata", {}).get("jobs")


@pytest.mark.parametrize(
    ("limits", "key"),
    [
        ("{'max_rows': 0}", "limits.max_rows"),
        ("{'max_body': 5}", "limits"),
        ("{'max_body_bytes': '10MB'}", "limits.max_body_bytes"),
    ],
)
def test_bad_limits_are_config_errors(fitted_iris, write_iris_config, limits, key):
    config = load_config(str(write_iris_config(f"\n    'limits': {limits},")))
    with pytest.raises(ConfigError, match=f": {key}: "):
        create_app(config)


def _post_huge(
    base: str, path: str, content_type: str, size: int = 100 * 2**20
) -> tuple[int, dict]:
    """Declare and start sending a ``size``-byte body; return the server's answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode())

        def send_body() -> None:
            chunk = b"0" * 2**20
            try:
                for _ in range(size // len(chunk)):
                    sock.sendall(chunk)
            except OSError:  # the server answered and closed: the rest is not wanted
                pass

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < 2:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head_text, _, body = answer.partition(b"\r\n\r\n")
    status = int(head_text.split()[1])
    assert b"application/json" in head_text.lower(), head_text
    return status, json.loads(body[: body.rindex(b"}") + 1])


def _server_command(server: str, port: int) -> list[str]:
    scripts = Path(sys.executable).parent
    if server == "gunicorn":
        return [str(scripts / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}"] + [
            "pld_core.wsgi:app"
        ]
    return [str(scripts / "pld"), "serve", "--port", str(port)]


@pytest.mark.parametrize("server", ["gunicorn", "pld serve"])
def test_a_100_mb_body_is_a_413_and_costs_no_memory(
    fitted_iris, write_iris_config, tmp_path, server
):
    config = write_iris_config(RULES)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env["PLD_CONFIG"] = str(config)
    command = _server_command(server, port)
    with running_server(command, port, cwd=tmp_path, env=env) as base:
        for _ in range(4):  # every worker has answered a prediction: warm
            assert http_json(f"{base}/predict?{QUERY}")[0] == 200
        serving = [  # the server's processes: their command line names the port
            process
            for process in psutil.process_iter(["cmdline"])
            if str(port) in " ".join(process.info["cmdline"] or [])
        ]
        # gunicorn: the two workers (children of the master); pld serve: its one process
        workers = [process for process in serving if process.parent() in serving]
        workers = workers or serving
        assert len(workers) == (2 if server == "gunicorn" else 1)
        idle = sum(worker.memory_info().rss for worker in workers)
        for path, content_type in [
            ("/predict", "application/json"),
            ("/fit", "application/x-www-form-urlencoded"),
            ("/activate", "application/x-www-form-urlencoded"),
        ]:
            status, body = _post_huge(base, path, content_type)
            assert status == 413, body
            assert "at most 10485760" in body["metadata"]["error_message"]
        after = sum(worker.memory_info().rss for worker in workers)
        print(
            f"worker RSS: idle {idle / 2**20:.1f} MB, "
            f"after three 100 MB bodies {after / 2**20:.1f} MB"
        )
        assert after <= 1.2 * idle, (idle, after)
        status, answer = http_json(f"{base}/predict?{QUERY}")  # and serving goes on
        assert status == 200 and answer["result"] == "Iris-versicolor"


def test_a_doubled_slash_redirect_says_where_to(fitted_iris):
    client = Client(create_app(load_config(str(fitted_iris))))
    answer = client.get("/alive//")
    assert answer.status_code == 308 and answer.mimetype == "application/json"
    assert client.get(answer.headers["Location"]).status_code == 200


def _raw_request(base: str, request: bytes) -> tuple[int, bytes, dict]:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.lower(), json.loads(body)


def test_a_malformed_chunked_body_under_gunicorn_is_a_400(fitted_iris, write_iris_config, tmp_path):
    config = write_iris_config(RULES)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env["PLD_CONFIG"] = str(config)
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [gunicorn, "--workers", "2", "--bind", f"127.0.0.1:{port}", "pld_core.wsgi:app"]
    with running_server(command, port, cwd=tmp_path, env=env) as base:
        for path, content_type in [("/predict", "application/json"), ("/fit", "application/json")]:
            request = (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n[]\r\n0\r\n\r\n"
            ).encode()
            status, head, body = _raw_request(base, request)
            assert status == 400 and b"application/json" in head, (path, body)
            assert body["metadata"]["status"] == "ERROR"
        assert http_json(f"{base}/predict?{QUERY}")[0] == 200
