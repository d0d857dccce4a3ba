"""Generated malformed requests get JSON 4xx answers, and the server keeps answering."""

from __future__ import annotations

import http.client
import json
import math
import os
import posixpath
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from pld_core import create_app, load_config
from pld_core.testing import free_port, http_json, running_server

FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
GOOD = {"sepal length": "6.3", "sepal width": "2.5", "petal length": "4.9", "petal width": "1.5"}

not_a_number = st.one_of(
    st.text(max_size=12).filter(lambda s: not _is_float(s)),
    st.sampled_from(["", "nan-ish", "1,5", "0x1p", "--1", "1e", "½", "\x00", "🌸"]),
)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


pytestmark = pytest.mark.slow


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@st.composite
def bad_query(draw):
    """A GET query with a value that is not a number, or a field missing."""
    query = dict(GOOD)
    if draw(st.booleans()):
        query[draw(st.sampled_from(FIELDS))] = draw(not_a_number)
    else:
        del query[draw(st.sampled_from(FIELDS))]
    extra = draw(st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=6), max_size=2))
    return {**extra, **query} if draw(st.booleans()) else query


@st.composite
def bad_body(draw):
    """A POST body that is not a non-empty list of complete, numeric objects."""
    kind = draw(st.sampled_from(["bytes", "json", "sample"]))
    if kind == "bytes":
        raw = draw(st.binary(max_size=40))
        return raw, "application/json"
    if kind == "json":
        value = draw(any_json.filter(lambda v: not _good_records(v)))
        return json.dumps(value).encode(), "application/json"
    sample = {k: float(v) for k, v in GOOD.items()}
    field = draw(st.sampled_from(FIELDS))
    if draw(st.booleans()):
        del sample[field]
    else:
        sample[field] = draw(
            st.one_of(not_a_number, st.none(), st.lists(st.integers()), st.booleans())
        )
    return json.dumps([sample]).encode(), draw(
        st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"])
    )


def _good_records(value) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and all(_numeric(v.get(f)) for f in FIELDS) for v in value)
    )


def _numeric(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


bad_request = st.one_of(
    bad_query().map(lambda q: ("GET", "/predict", {"query_string": q})),
    bad_body().map(lambda b: ("POST", "/predict", {"data": b[0], "content_type": b[1]})),
    st.tuples(
        st.sampled_from(["PUT", "DELETE", "PATCH", "POST"]),
        st.sampled_from(["/predict", "/alive", "/list", "/nope", "/predict/x", "/%ff"]),
    )
    .filter(lambda mp: not (mp[0] == "POST" and mp[1] == "/predict"))
    .map(lambda mp: (mp[0], mp[1], {})),
)


@pytest.fixture
def fuzz_client(fitted_iris):
    return Client(create_app(load_config(str(fitted_iris))))


def test_malformed_requests_get_json_4xx_and_the_server_keeps_answering(fuzz_client):
    sent = []

    @settings(
        max_examples=1200, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(request=bad_request)
    def check(request):
        method, path, kwargs = request
        response = fuzz_client.open(path, method=method, **kwargs)
        sent.append(response.status_code)
        assert 400 <= response.status_code < 500, (request, response.get_data(as_text=True))
        assert response.mimetype == "application/json"
        body = json.loads(response.get_data())
        assert body["metadata"]["status"] == "ERROR"
        assert body["metadata"]["error_message"]

    check()
    assert len(sent) >= 1000
    assert {400, 404, 405} <= set(sent)
    response = fuzz_client.get("/predict", query_string=GOOD)
    assert response.status_code == 200 and response.json["result"] == "Iris-versicolor"


FIT_OPTIONS = {"persist": "bool", "activate": "bool", "evaluate": "bool"}
not_a_bool = st.one_of(
    st.text(max_size=8).filter(
        lambda s: (
            s.strip().lower()
            not in {"1", "0", "t", "f", "y", "n", "true", "false"} | {"yes", "no", "on", "off"}
        )
    ),
    st.integers(),
    st.floats(),
    st.none(),
    st.lists(st.booleans(), max_size=2),
)


@st.composite
def bad_fit_request(draw):
    """A /fit request with an unknown option, a badly typed one, or a body that is no object."""
    kind = draw(st.sampled_from(["unknown", "typed", "body"]))
    if kind == "body":
        raw = draw(
            st.binary(min_size=1, max_size=30)  # an empty body is no options: valid
            | any_json.filter(lambda v: not isinstance(v, dict)).map(
                lambda v: json.dumps(v).encode()
            )
        )
        return {"data": raw, "content_type": "application/json"}
    if kind == "unknown":
        name = draw(st.text(min_size=1, max_size=10).filter(lambda s: s not in FIT_OPTIONS))
        name = name if name != "persist_if_better_than" else name + "_"
        options = {name: draw(any_json)}
    else:
        name = draw(st.sampled_from([*FIT_OPTIONS, "persist_if_better_than"]))
        value = draw(
            not_a_bool
            if name in FIT_OPTIONS
            else st.one_of(not_a_number, st.booleans(), st.just(float("inf")), st.none())
        )
        options = {name: value}
    if draw(st.booleans()):
        return {"json": options}
    as_text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in options.items()}
    if kind == "typed":  # 0 is no JSON boolean, but "0" is a fine one in a query or form
        assume(not _valid_text(name, as_text[name]))
    return {"query_string": as_text} if draw(st.booleans()) else {"data": as_text}


def _valid_text(name: str, text: str) -> bool:
    if name in FIT_OPTIONS:
        return text.strip().lower() in {"1", "0", "t", "f", "y", "n", "true", "false"} | {
            "yes",
            "no",
            "on",
            "off",
        }
    return _is_float(text) and math.isfinite(float(text))


def test_malformed_fit_requests_are_json_400s_and_start_no_job(fitted_iris, write_iris_config):
    config = write_iris_config(
        "\n    'rules': [{'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit'}],"
    )
    client = Client(create_app(load_config(str(config))))
    sent = []

    @settings(
        max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(kwargs=bad_fit_request())
    def check(kwargs):
        response = client.post("/fit", **kwargs)
        sent.append(response.status_code)
        assert response.status_code == 400, (kwargs, response.get_data(as_text=True))
        assert response.mimetype == "application/json"
        assert json.loads(response.get_data())["metadata"]["error_message"]

    check()
    assert len(sent) >= 300
    assert client.get("/alive").json["process_metadata"].get("jobs", {}) == {}


# -- real servers: gunicorn (2 workers) and pld serve ---------------------------------------

#: Requests per server; CI keeps the default small, a release check runs 10,000 or more.
FUZZ_REQUESTS = int(os.environ.get("PLD_FUZZ_REQUESTS", "400"))
SERVER_RULES = """
    'rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/activate', 'view_func': 'activate', 'methods': ['POST']},
    ],"""
QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
NON_FINITE_TEXT = ["nan", "NaN", "inf", "-inf", "Infinity", "1e309", "-1e999", "𝟙", "١", "1e-400"]
NON_FINITE_JSON = ["NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1e999", '"nan"', '"1e999"']


@dataclass(frozen=True)
class Wire:
    """One request as sent on the wire; ``chunks`` is a raw chunked body (maybe malformed)."""

    method: str
    path: str
    params: dict | None = None
    headers: dict | None = None
    data: bytes | dict | None = None
    chunks: bytes | None = None


def _from_client_kwargs(method: str, path: str, kwargs: dict) -> Wire:
    """A Wire from the werkzeug test client arguments the strategies above make."""
    headers, data = {}, kwargs.get("data")
    if "json" in kwargs:
        data, headers = json.dumps(kwargs["json"]).encode(), {"Content-Type": "application/json"}
    elif "content_type" in kwargs:
        headers = {"Content-Type": kwargs["content_type"]}
    return Wire(method, path, kwargs.get("query_string"), headers, data)


@st.composite
def non_finite(draw):
    """A /predict request with one number that is not finite, as text or as JSON text."""
    field = draw(st.sampled_from(FIELDS))
    if draw(st.booleans()):
        return Wire("GET", "/predict", {**GOOD, field: draw(st.sampled_from(NON_FINITE_TEXT))})
    sample = json.dumps([{**{k: float(v) for k, v in GOOD.items()}, field: "@"}])
    body = sample.replace('"@"', draw(st.sampled_from(NON_FINITE_JSON))).encode()
    return Wire("POST", "/predict", headers={"Content-Type": "application/json"}, data=body)


@st.composite
def deep_json(draw):
    depth = draw(st.sampled_from([1_000, 10_000, 100_000]))
    opening, middle, closing = draw(st.sampled_from([("[", "", "]"), ('{"a":', "1", "}")]))
    body = (opening * depth + middle + closing * depth).encode()
    path = draw(st.sampled_from(["/predict", "/fit", "/activate"]))
    return Wire("POST", path, headers={"Content-Type": "application/json"}, data=body)


@st.composite
def bad_chunks(draw):
    """A chunked body whose framing is broken: a bad size, a short chunk, no terminator."""
    framing = draw(
        st.sampled_from(
            [b"zz\r\n[]\r\n0\r\n\r\n", b"5\r\n[]\r\n0\r\n\r\n", b"-1\r\n[]\r\n0\r\n\r\n"]
            + [b"2\r\n[]\r\n", b"ffffffffffffffffff\r\n[]\r\n0\r\n\r\n", b"2;x\r\n[]\r\n0\r\n\r\n"]
        )
    )
    path = draw(st.sampled_from(["/predict", "/fit", "/activate"]))
    return Wire("POST", path, headers={"Content-Type": "application/json"}, chunks=framing)


odd_requests = st.builds(
    Wire,
    method=st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "POST"]),
    path=st.sampled_from(
        ["/alive//", "/%ff", "/predict/..", "//predict", "/list?x=%zz", "/" + "a" * 3000]
        + ["/fit", "/activate", "/openapi.json/", "/nope"]
    ),
)
bad_activate = st.one_of(
    st.dictionaries(st.sampled_from(["model_version", "x"]), not_a_number, min_size=1),
    st.just({}),
).map(lambda form: Wire("POST", "/activate", data=form))


def malformed_requests(schema) -> st.SearchStrategy[Wire]:
    """Every kind of malformed request, to every endpoint (schemathesis' from the document)."""
    generated = [
        schema[path][method].as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)
        for path, method in [("/predict", "GET"), ("/predict", "POST"), ("/fit", "POST")]
        + [("/activate", "POST")]
    ]
    cases = st.one_of(generated).map(
        lambda case: requests.Request(**_request_kwargs(case.as_transport_kwargs())).prepare()
    )
    return st.one_of(
        bad_query().map(lambda q: Wire("GET", "/predict", q)),
        bad_body().map(
            lambda b: Wire("POST", "/predict", headers={"Content-Type": b[1]}, data=b[0])
        ),
        bad_fit_request().map(lambda kwargs: _from_client_kwargs("POST", "/fit", kwargs)),
        bad_activate,
        non_finite(),
        deep_json(),
        bad_chunks(),
        odd_requests,
        cases.map(
            lambda p: Wire(
                p.method,
                p.path_url,
                headers={k: v for k, v in p.headers.items() if k.lower() == "content-type"},
                data=p.body.encode() if isinstance(p.body, str) else p.body,
            )
        ),
    )


def _request_kwargs(kwargs: dict) -> dict:
    keep = {"method", "url", "headers", "params", "json", "data", "files"}
    kwargs = {k: v for k, v in kwargs.items() if k in keep}
    kwargs["url"] = "http://pld" + kwargs["url"]  # only its path and query are sent
    return kwargs


def _send(base: str, wire: Wire, session: requests.Session) -> tuple[int, str, bytes]:
    """``(status, content type, body)`` of ``wire`` sent to ``base``."""
    if wire.chunks is None:
        answer = session.request(
            wire.method,
            base + wire.path,
            params=wire.params,
            headers=wire.headers,
            data=wire.data,
            timeout=60,
            allow_redirects=False,
        )
        return answer.status_code, answer.headers.get("Content-Type", ""), answer.content
    host, port = base.removeprefix("http://").split(":")
    head = f"{wire.method} {wire.path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    for name, value in (wire.headers or {}).items():
        head += f"{name}: {value}\r\n"
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + wire.chunks)
        sock.shutdown(socket.SHUT_WR)  # a body that never ends must not hold the worker
        response = http.client.HTTPResponse(sock, method=wire.method)
        response.begin()
        return response.status, response.getheader("Content-Type", ""), response.read()


def _gunicorn_refused(status: int, content_type: str, body: bytes) -> bool:
    """gunicorn's own HTML answer to a request line or headers over its limits (414, 431...).

    gunicorn answers these before any application sees the request; a front such as nginx
    decides what clients get for them (examples/deploy).
    """
    return content_type.startswith("text/html") and b"<h1><p>" in body and status in (414, 431)


def _is_the_service_page(wire, content_type: str) -> bool:
    """Whether a request named the service page, whose answer is HTML by design."""
    path = posixpath.normpath(wire.path.split("?")[0]) if wire.path else "/"
    return path == "/" and wire.method in ("GET", "HEAD") and content_type.startswith("text/html")


def _strict_json(body: bytes):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(body, parse_constant=refuse)


@pytest.mark.parametrize("server", ["gunicorn", "pld serve"])
def test_generated_malformed_requests_to_a_real_server(
    server, fitted_iris, write_iris_config, tmp_path
):
    config = write_iris_config(SERVER_RULES)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env["PLD_CONFIG"] = str(config)
    scripts = Path(sys.executable).parent
    command = {
        "gunicorn": [str(scripts / "gunicorn"), "--workers", "2"]
        + ["--bind", f"127.0.0.1:{port}", "pld_core.wsgi:app"],
        "pld serve": [str(scripts / "pld"), "serve", "--port", str(port)],
    }[server]
    statuses: Counter = Counter()
    refused_by_gunicorn: Counter = Counter()
    bad: list = []
    with running_server(command, port, cwd=tmp_path, env=env) as base:
        session = requests.Session()
        schema = schemathesis.openapi.from_dict(session.get(base + "/openapi.json").json())
        started = time.monotonic()

        @settings(
            max_examples=FUZZ_REQUESTS,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(wire=malformed_requests(schema))
        def check(wire):
            status, content_type, body = _send(base, wire, session)
            statuses[status] += 1
            problem = None
            if server == "gunicorn" and _gunicorn_refused(status, content_type, body):
                refused_by_gunicorn[status] += 1  # the request never reached pld
            elif status >= 500:
                problem = "5xx"
            elif status == 200 and _is_the_service_page(wire, content_type):
                pass  # '/', '/predict/..': the HTML page /openapi.json documents
            elif not content_type.startswith("application/json"):
                problem = "not JSON"
            elif wire.method != "HEAD":
                try:
                    answer = _strict_json(body)
                except ValueError:
                    problem = "not JSON"
                else:
                    if status >= 400 and answer["metadata"]["status"] != "ERROR":
                        problem = "no error envelope"
            if problem:
                bad.append((problem, status, wire, body[:300]))

        check()
        seconds = time.monotonic() - started
        sent = sum(statuses.values())
        print(
            f"{server}: {sent} requests in {seconds:.1f} s; statuses "
            + ", ".join(f"{s} ×{n}" for s, n in sorted(statuses.items()))
            + f"; answered by gunicorn itself (HTML): {dict(refused_by_gunicorn)}"
        )
        assert not bad, bad[:5]
        assert sent >= 0.9 * FUZZ_REQUESTS, statuses
        assert {400, 404, 405} <= set(statuses)
        status, answer = http_json(f"{base}/predict?{QUERY}")  # and it still answers correctly
        assert status == 200 and answer["result"] == "Iris-versicolor"
        status, answer = http_json(f"{base}/predict", [{k: float(v) for k, v in GOOD.items()}])
        assert status == 200 and answer["result"] == ["Iris-versicolor"]
