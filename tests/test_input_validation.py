"""Every model input is checked against the version's stored input schema, on every path.

NaN is refused where the training data had no missing values (and passes where it had),
infinity always; integers outside their trained type's range, text where numbers belong and
categories never seen in training are refused, naming the sample and the field. Values beyond
the training range are answered and counted.
"""

from __future__ import annotations

import json

import numpy
import pandas
import pytest
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request

from pld_core import (
    ConfigError,
    InputError,
    PredictPath,
    annotate,
    create_app,
    get_plugin_manager,
    hookimpl,
    load_config,
    training_metadata,
)
from pld_core.input_check import InputPolicy, build_input_check
from pld_plugins.predict import PredictService

GOOD = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}
FIELDS = list(GOOD)


def _error(answer) -> str:
    assert answer.mimetype == "application/json"
    return answer.json["metadata"]["error_message"]


# -- over HTTP, with the iris model (LogisticRegression, trained without missing values) ------


@pytest.fixture
def iris_client(fitted_iris) -> Client:
    return Client(create_app(load_config(str(fitted_iris))))


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("nan", "field 'sepal width': a missing value (NaN) is not allowed: model version 1"),
        ("NaN", "a missing value (NaN) is not allowed"),
        ("inf", "field 'sepal width': inf is not a finite number"),
        ("-Infinity", "-inf is not a finite number"),
        ("1e999", "inf is not a finite number"),
        ("𝟙", "parameter 'sepal width': '𝟙' is not a number"),  # only ASCII digits count
        ("abc", "could not convert"),
    ],
)
def test_get_refuses_values_the_model_cannot_take_with_a_400(iris_client, value, says):
    answer = iris_client.get("/predict", query_string={**GOOD, "sepal width": value})
    assert answer.status_code == 400
    assert says in _error(answer)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("1e999", "sample 2, field 'petal length': inf is not a finite number"),
        ("nan", "sample 2, field 'petal length': a missing value (NaN) is not allowed"),
        (True, "sample 2: parameter 'petal length': True is not a number"),
        (None, "sample 2: parameter 'petal length'"),
        ("٣", "sample 2: parameter 'petal length'"),  # an Arabic-Indic three
    ],
)
def test_post_names_the_sample_and_the_field(iris_client, value, says):
    body = [GOOD, GOOD, {**GOOD, "petal length": value}, GOOD]
    answer = iris_client.post("/predict", json=body)
    assert answer.status_code == 400
    assert says in _error(answer)


def test_numbers_too_large_for_a_double_are_refused_before_the_model(iris_client):
    text = '[{"sepal length": 1e309, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}]'
    answer = iris_client.post("/predict", data=text, content_type="application/json")
    assert answer.status_code == 400
    assert "not valid JSON" in _error(answer)


def test_hook_pld_input_out_of_range(fitted_iris):
    """Values beyond the training range are answered, and the hook hears of them."""
    seen: list[dict] = []

    class Listener:
        @hookimpl
        def pld_input_out_of_range(self, entry_point, version, counts):
            seen.append({"entry_point": entry_point, "version": version, "counts": counts})

    plugins = get_plugin_manager()
    plugins.register(Listener())
    app = create_app(load_config(str(fitted_iris), plugins=plugins))
    client = Client(app)
    huge = {**GOOD, "sepal length": 70.0, "petal width": -3.0}
    answer = client.post("/predict", json=[huge, GOOD, huge])
    assert answer.status_code == 200 and len(answer.json["result"]) == 3
    assert client.get("/predict", query_string=GOOD).status_code == 200  # in range: no call
    assert seen == [
        {"entry_point": "/predict", "version": 1, "counts": {"sepal length": 2, "petal width": 2}}
    ]
    check = app.predict_paths["predict_service"].input_check()
    assert check is not None and check.out_of_range == {"sepal length": 2, "petal width": 2}


def test_the_metrics_plugin_counts_values_beyond_the_training_range(fitted_iris):
    prometheus_client = pytest.importorskip("prometheus_client", reason="needs prometheus-client")
    from pld_plugins.metrics import endpoint_metrics

    counter = endpoint_metrics().out_of_range.labels("/predict", "sepal length")
    before = counter._value.get()
    client = Client(create_app(load_config(str(fitted_iris))))
    assert client.get("/predict", query_string={**GOOD, "sepal length": "99"}).status_code == 200
    assert counter._value.get() == before + 1
    text = prometheus_client.generate_latest().decode()
    assert 'pld_input_out_of_range_total{endpoint="/predict",field="sepal length"}' in text


def test_input_checks_can_be_switched_off_and_are_checked_themselves(
    write_iris_config, fitted_iris
):
    off = write_iris_config("\n    'input_checks': {'enabled': False},")
    client = Client(create_app(load_config(str(off))))
    answer = client.get("/predict", query_string={**GOOD, "sepal width": "nan"})
    assert answer.status_code == 500  # scikit-learn's own check, as before pld checked
    assert "NaN" in _error(answer)

    wrong = write_iris_config("\n    'input_checks': {'unseen_categories': 'maybe'},")
    with pytest.raises(ConfigError, match="input_checks.unseen_categories: must be one of"):
        create_app(load_config(str(wrong)))


# -- the schema decides: a model trained with missing values takes them -----------------------


class _NamedLoader:
    """What pld learns column names from when the data is a bare array."""

    def __init__(self, names):
        self.feature_names_ = names


def _fitted(model, X, y, names):
    model.fit(X, y)
    annotate(model, {**training_metadata(model, X, _NamedLoader(names)), "version": 7})
    return model


def _answer(service: PredictService, model, body) -> tuple[int, dict]:
    environ = EnvironBuilder(method="POST", json=body).get_environ()
    response = service(model, Request(environ))
    return response.status_code, json.loads(response.get_data())


def test_a_column_trained_with_missing_values_accepts_nan_there_and_only_there():
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + X[:, 2] > 0).astype(int)
    X[rng.random(200) < 0.2, 1] = numpy.nan  # column 'b' has missing values
    model = _fitted(HistGradientBoostingClassifier(max_iter=20), X, y, ["a", "b", "c"])
    service = PredictService(mapping=[("a", "float"), ("b", "float"), ("c", "float")])

    status, body = _answer(service, model, [{"a": 0.5, "b": "nan", "c": 0.1}])
    assert status == 200 and body["result"] in ([0], [1])
    status, body = _answer(service, model, [{"a": "nan", "b": 0.0, "c": 0.1}])
    assert status == 400
    assert body["metadata"]["error_message"] == (
        "BadRequest: field 'a': a missing value (NaN) is not allowed: model version 7 was "
        "trained without missing values in this field"
    )
    status, body = _answer(service, model, [{"a": 0.5, "b": "inf", "c": 0.1}])
    assert status == 400 and "field 'b': inf is not a finite number" in str(body)


def test_integers_outside_the_trained_type_are_refused():
    X = numpy.array([[1, 2], [3, 4], [5, 6], [7, 8]], dtype=numpy.int8)
    model = _fitted(LogisticRegression(), X, [0, 0, 1, 1], ["small", "other"])
    service = PredictService(mapping=[("small", "int"), ("other", "int")])
    assert _answer(service, model, [{"small": 100, "other": 3}])[0] == 200
    status, body = _answer(service, model, [{"small": 1, "other": 3}, {"small": 300, "other": 3}])
    assert status == 400
    assert (
        "sample 1, field 'small': 300.0 is outside the range of the trained type (-128..127)"
        in (body["metadata"]["error_message"])
    )


def test_unseen_categories_are_refused_or_passed_as_configured():
    X = numpy.array(
        [["Hamburg", 1.0], ["Kiel", 2.0], ["Hamburg", 3.0], ["Kiel", 0.5]], dtype=object
    )
    encoder = OneHotEncoder(handle_unknown="ignore")
    model = _fitted(make_pipeline(encoder, LogisticRegression()), X[:, :1], [0, 1, 0, 1], ["city"])
    service = PredictService(mapping=[("city", "str")])
    assert _answer(service, model, [{"city": "Kiel"}])[0] == 200
    status, body = _answer(service, model, [{"city": "Kiel"}, {"city": "Berlin"}])
    assert status == 400
    assert body["metadata"]["error_message"] == (
        "BadRequest: sample 1, field 'city': 'Berlin' is a category model version 7 never saw "
        "in training (known: 'Hamburg', 'Kiel')"
    )
    lenient = PredictPath(
        service, lambda: model, input_policy=InputPolicy(unseen_categories="pass")
    )
    assert len(lenient.predict([{"city": "Berlin"}])) == 1  # the encoder ignores it


def test_text_in_a_numeric_column_is_refused_by_the_check_itself():
    """A service that hands the model raw values still gets numbers checked."""
    frame = pandas.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.5, 0.1, 0.2]})
    model = _fitted(LogisticRegression(), frame, [0, 1, 0], ["x", "y"])
    check = build_input_check(model, InputPolicy())
    assert check is not None
    with pytest.raises(InputError, match=r"sample 1, field 'y': 'abc' is not a number"):
        check(pandas.DataFrame({"x": [1.0, 2.0], "y": [0.5, "abc"]}))
    with pytest.raises(InputError, match=r"field 'x': a missing value"):
        check(pandas.DataFrame({"x": [None], "y": [0.5]}))
    assert check(pandas.DataFrame({"y": [0.3], "x": [9.0]})) == {"x": 1}  # by name, counted


def test_a_model_without_a_stored_schema_is_not_checked():
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    assert build_input_check(model, InputPolicy()) is None
    annotate(model, {"input_schema": {"columns": "not a list"}})
    assert build_input_check(model, InputPolicy()) is None


# -- scikit-learn's own finiteness check is skipped where pld's has covered it ----------------


@pytest.mark.parametrize("direct", [True, False])
def test_checked_inputs_skip_scikit_learns_finiteness_check(fitted_iris, direct):
    """A checked float input is trusted by a scikit-learn estimator that serves itself; one
    served directly (pld_plugins' sklearn_direct) is not called through scikit-learn at all."""
    flags: list[tuple[str, bool]] = []

    class Spy:
        @hookimpl(wrapper=True)
        def pld_predict(self, model, X, method, params):
            flags.append((type(model).__name__, sklearn.get_config()["assume_finite"]))
            return (yield)

    plugins = get_plugin_manager()
    plugins.register(Spy())
    loaded = load_config(str(fitted_iris), plugins=plugins, sklearn_direct=direct)
    client = Client(create_app(loaded))
    many = [GOOD] * 500
    assert client.post("/predict", json=[GOOD]).status_code == 200
    assert client.post("/predict", json=many).status_code == 200
    if direct:
        assert flags == [("DirectModel", False)] * 2
    else:
        assert flags == [("LogisticRegression", True)] * 2
    assert sklearn.get_config()["assume_finite"] is False  # only for that call
