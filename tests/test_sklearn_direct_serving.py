"""A scikit-learn model served by pld answers as the estimator does, without re-validation."""

from __future__ import annotations

import pickle

from werkzeug.test import Client

from pld_core import create_app, load_config

QUERY = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}


def test_the_service_serves_the_estimator_directly_and_says_so(fitted_iris, tmp_path):
    app = create_app(load_config(str(fitted_iris)))
    client = Client(app)
    assert client.get("/alive").get_json()["served_by"] == "sklearn-direct"
    estimator = app.models.get().model
    rows = [[6.3, 2.5, 4.9, 1.5], [5.0, 3.4, 1.5, 0.2], [7.7, 3.0, 6.1, 2.3], [20.0, 0.0, 9.0, 4.0]]
    body = [dict(zip(QUERY, row, strict=True)) for row in rows]
    answer = client.post("/predict", json=body).get_json()
    assert answer["result"] == estimator.predict(rows).tolist()
    assert client.get("/predict", query_string=QUERY).get_json()["result"] == "Iris-versicolor"
    bad = client.get("/predict", query_string={**QUERY, "sepal width": "nan"})
    assert bad.status_code == 400  # pld's input check still speaks first
    pickle.loads(pickle.dumps(app.models.get()))  # the served object pickles


def test_switched_off_the_estimator_serves_itself(fitted_iris):
    client = Client(create_app(load_config(str(fitted_iris), sklearn_direct=False)))
    assert client.get("/alive").get_json()["served_by"] == "python"
    assert client.get("/predict", query_string=QUERY).get_json()["result"] == "Iris-versicolor"
