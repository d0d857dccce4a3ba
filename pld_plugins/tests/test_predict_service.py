"""The default predict service's parsing and answers, without an HTTP server."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from pld_core import PredictError
from pld_plugins.predict import BadRequest, PredictService

MAPPING = [("a", "float"), ("b", "float")]


@pytest.fixture
def model():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0], [6.0, 6.0]])
    return LogisticRegression().fit(X, ["low", "low", "high", "high"])


@pytest.fixture
def service():
    return PredictService(MAPPING, service_metadata={"service_name": "t", "service_version": "1"})


def request(method="GET", query=None, body=None, content_type="application/json"):
    data = json.dumps(body) if body is not None and not isinstance(body, str) else body
    builder = EnvironBuilder(
        method=method,
        query_string=query,
        data=data,
        content_type=content_type if data is not None else None,
    )
    return Request(builder.get_environ())


def call(service, model, req):
    response = service(model, req)
    assert response.mimetype == "application/json"
    return response.status_code, response.get_data()


def test_get_answers_one_result_in_the_envelope(service, model):
    status, body = call(service, model, request(query={"a": "6", "b": "6"}))
    assert status == 200
    assert json.loads(body) == {
        "result": "high",
        "metadata": {"status": "OK", "error_code": 0, "service_name": "t", "service_version": "1"},
    }


def test_post_answers_a_list(service, model):
    status, body = call(service, model, request("POST", body=[{"a": 0, "b": 0}, {"a": 6, "b": 6}]))
    assert status == 200 and json.loads(body)["result"] == ["low", "high"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": {"a": "1"}}, "BadRequest: missing parameter 'b'"),
        ({"query": {"a": "x", "b": "1"}}, "BadRequest: parameter 'a': could not convert"),
        ({"method": "POST", "body": "not json"}, "the body is not valid JSON"),
        (
            {"method": "POST", "body": "[]", "content_type": "text/plain"},
            "must be application/json",
        ),
        ({"method": "POST", "body": {"a": 1}}, "the body must be a non-empty JSON list"),
        ({"method": "POST", "body": [1, 2]}, "each sample must be a JSON object"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem(service, model, kwargs, message):
    status, body = call(service, model, request(**kwargs))
    assert status == 400
    metadata = json.loads(body)["metadata"]
    assert metadata["status"] == "ERROR" and metadata["error_code"] == -1
    assert message in metadata["error_message"]


def test_predict_error_keeps_its_message_and_code(service):
    class Refuses:
        def predict(self, X):
            raise PredictError("no prediction today", 42)

    status, body = call(service, Refuses(), request(query={"a": "1", "b": "1"}))
    assert status == 500
    metadata = json.loads(body)["metadata"]
    assert (metadata["error_message"], metadata["error_code"]) == ("no prediction today", 42)


def test_types_and_params_and_proba(model):
    service = PredictService(
        [("n", "int"), ("flag", "bool"), ("s", "str")], params=[("threshold", "float")]
    )
    assert service.sample_from_data(model, {"n": "3", "flag": "true", "s": "x"}) == [3, True, "x"]
    assert service.sample_from_data(model, {"n": 3.0, "flag": False, "s": 1}) == [3, False, "1"]
    with pytest.raises(BadRequest, match="'n': 3.5 is not an integer"):
        service.sample_from_data(model, {"n": 3.5, "flag": True, "s": "x"})
    with pytest.raises(BadRequest, match="'flag': 'maybe' is not a boolean"):
        service.sample_from_data(model, {"n": 1, "flag": "maybe", "s": "x"})
    assert service.params_from_data(model, {"threshold": "0.5"}) == {"threshold": 0.5}
    model.threshold = 0.7
    assert service.params_from_data(model, {}) == {"threshold": 0.7}

    proba = PredictService(MAPPING, predict_proba=True)
    status, body = call(proba, model, request(query={"a": "6", "b": "6"}))
    result = json.loads(body)["result"]
    assert status == 200 and len(result) == 2 and sum(result) == pytest.approx(1.0)


def test_constructor_rejects_bad_mappings():
    with pytest.raises(ValueError, match="unknown type 'double'"):
        PredictService([("a", "double")])
    with pytest.raises(ValueError, match=r"must be \(name, type\)"):
        PredictService([("a",)])
    with pytest.raises(ValueError, match="must start with '/'"):
        PredictService(MAPPING, entry_point="predict")


def test_table_input_reads_whole_columns_of_any_chunking(service, model):
    import pyarrow as pa

    first = pa.record_batch({"a": pa.array([1.0, 2.0, 3.0]), "b": pa.array([4, 5, 6])})
    second = pa.record_batch({"a": pa.array([7.5, 8.5]), "b": pa.array([9, 10])})
    table = pa.Table.from_batches([first, second]).slice(1, 3)  # two chunks, an offset
    X, params = service.table_input(model, table, {})
    assert X.dtype == np.float64 and params == {}
    assert X.tolist() == [[2.0, 5.0], [3.0, 6.0], [7.5, 9.0]]
    text = pa.record_batch({"a": pa.array(["1.5", "2"]), "b": pa.array([0.5, 1.0])}).slice(1)
    assert service.table_input(model, text, {})[0].tolist() == [[2.0, 1.0]]
    with_null = pa.record_batch({"a": pa.array([1.0, None]), "b": pa.array([1.0, 2.0])})
    assert service.table_input(model, with_null, {}) is None  # the records way names it
