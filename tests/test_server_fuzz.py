"""Generated malformed requests get JSON 4xx answers, and the server keeps answering."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from pld_core import create_app, load_config

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
