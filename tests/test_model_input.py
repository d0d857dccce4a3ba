"""What a model was trained on is stored with it, and the predict service checks it feeds that.

``input_schema`` (names, types, missing values) is recorded at fit time; a predict service
whose mapping lists the trained features in another order refuses to answer instead of
answering wrongly.
"""

from __future__ import annotations

import json
import logging

import numpy
import pandas
import pytest
from werkzeug.test import Client

from pld_core import create_app, data_metadata, input_schema, load_config

QUERY = {"sepal length": "6.3", "sepal width": "2.5", "petal length": "4.9", "petal width": "1.5"}
FIELDS = list(QUERY)


def test_a_frame_gives_names_types_and_missing_values():
    frame = pandas.DataFrame({"age": [31, 45], "income": [1.5, None], "city": ["Hamburg", "Kiel"]})
    assert data_metadata(frame, loader=None) == {
        "feature_names": ["age", "income", "city"],
        "input_schema": {
            "n_features": 3,
            "columns": [
                {"name": "age", "type": "int64", "nullable": False, "min": 31, "max": 45},
                {"name": "income", "type": "float64", "nullable": True, "min": 1.5, "max": 1.5},
                {
                    "name": "city",
                    "type": frame["city"].dtype.name,
                    "nullable": False,
                    "categories": ["Hamburg", "Kiel"],
                },
            ],
        },
    }


def test_arrays_give_types_and_names_from_elsewhere():
    floats = numpy.array([[1.0, numpy.nan], [2.0, 3.0]])
    assert input_schema(floats, ["a", "b"]) == {
        "n_features": 2,
        "columns": [
            {"name": "a", "type": "float64", "nullable": False, "min": 1.0, "max": 2.0},
            {"name": "b", "type": "float64", "nullable": True, "min": 3.0, "max": 3.0},
        ],
    }
    ints = numpy.array([[1, 2, 3]])
    assert [c["nullable"] for c in input_schema(ints)["columns"]] == [False] * 3
    assert input_schema(ints, ["only", "two"])["columns"][0]["name"] is None
    objects = numpy.array([["x", None]], dtype=object)
    assert [c["nullable"] for c in input_schema(objects)["columns"]] == [None, None]
    assert input_schema(numpy.array([1.0, 2.0])) is None
    assert input_schema([[1.0, 2.0]]) is None


def test_fit_stores_the_input_schema(fitted_iris):
    model = load_config(str(fitted_iris), __mode__="fit")["model_persister"].read()
    schema = model.__metadata__["input_schema"]
    assert schema["n_features"] == 4
    columns = schema["columns"]
    assert [(c["name"], c["type"], c["nullable"]) for c in columns] == [
        (name, "float64", False) for name in FIELDS
    ]
    # the observed ranges of the 100 training rows of iris (in centimetres)
    assert all(0.0 < c["min"] < c["max"] < 8.0 for c in columns)
    assert columns[0]["min"] >= 4.3 and columns[0]["max"] <= 7.9  # sepal length, all of iris


def swapped_service(order: list[str]) -> str:
    mapping = [(name, "float") for name in order]
    return f"\n    'predict_service': {{'!': 'predict-service', 'mapping': {mapping!r}}},"


def test_a_mapping_in_another_order_is_refused_not_answered_wrongly(fitted_iris, write_iris_config):
    order = ["sepal width", "sepal length", "petal length", "petal width"]
    client = Client(create_app(load_config(str(write_iris_config(swapped_service(order))))))
    for _ in range(2):  # checked once per model, refused every time
        response = client.get("/predict", query_string=QUERY)
        assert response.status_code == 500
        message = response.json["metadata"]["error_message"]
        assert message.startswith(
            "the predict service's mapping lists the features in another order than model "
            "version 1 was trained on: ['sepal width', 'sepal length', "
        )
    assert json.loads(client.get("/alive").get_data())["model_persister"]["metadata"]


def test_other_names_are_served_with_one_warning(fitted_iris, write_iris_config, caplog):
    renamed = ["sl", "sw", "pl", "pw"]
    config = write_iris_config(swapped_service(renamed))
    client = Client(create_app(load_config(str(config))))
    query = dict(zip(renamed, QUERY.values(), strict=True))
    with caplog.at_level(logging.WARNING, logger="pld_plugins.predict"):
        answers = [client.get("/predict", query_string=query) for _ in range(3)]
    assert [a.json["result"] for a in answers] == ["Iris-versicolor"] * 3
    warnings = [r.getMessage() for r in caplog.records if r.name == "pld_plugins.predict"]
    assert len(warnings) == 1
    assert (
        "mapping ['sl', 'sw', 'pl', 'pw'] differs from the features model version 1"
        in (warnings[0])
    )


class FirstColumn:
    """Predicts the first column: shows which field the service put first."""

    def predict(self, X):
        return X[:, 0]


def test_the_check_follows_the_model_being_served():
    from pld_core import PredictError, annotate
    from pld_plugins.predict import PredictService

    service = PredictService(mapping=[("b", "float"), ("a", "float")])
    old, retrained = FirstColumn(), FirstColumn()
    annotate(old, {"feature_names": ["a", "b"], "version": 3})
    annotate(retrained, {"feature_names": ["b", "a"], "version": 4})
    with pytest.raises(PredictError, match="than model version 3 was trained on"):
        service.predict_records(old, [{"a": 1, "b": 2}], {})
    assert service.predict_records(retrained, [{"a": 1, "b": 2}], {}).tolist() == [2.0]
    unnamed = FirstColumn()  # nothing recorded: nothing to check
    assert service.predict_records(unnamed, [{"a": 1, "b": 2}], {}).tolist() == [2.0]
