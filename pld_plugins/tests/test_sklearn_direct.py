"""scikit-learn models served without re-validation: same answers, verified, or not at all."""

from __future__ import annotations

import logging

import numpy
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Perceptron,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from pld_core import input_schema
from pld_plugins.sklearn_direct import SERVED_BY, direct, pld_serve_model
from pld_plugins.sklearn_direct.direct import DirectModel, direct_model

IRIS_X, _iris_y = load_iris(return_X_y=True)
IRIS_Y = numpy.array(["setosa", "versicolor", "virginica"])[_iris_y]
DIABETES_X, DIABETES_Y = load_diabetes(return_X_y=True)


def fitted(model, X, y):
    model.fit(X, y)
    model.__metadata__ = {"version": 3, "input_schema": input_schema(X)}
    return model


CLASSIFIERS = [
    LogisticRegression(max_iter=1000),
    RidgeClassifier(),
    SGDClassifier(random_state=0),
    Perceptron(random_state=0),
    LinearSVC(),
    DecisionTreeClassifier(random_state=0),
    RandomForestClassifier(n_estimators=15, random_state=0),
    ExtraTreesClassifier(n_estimators=15, random_state=0),
]
REGRESSORS = [
    LinearRegression(),
    Ridge(),
    Lasso(alpha=0.1),
    ElasticNet(alpha=0.01),
    DecisionTreeRegressor(random_state=0),
    RandomForestRegressor(n_estimators=10, random_state=0),
    ExtraTreesRegressor(n_estimators=10, random_state=0),
]


def unseen_rows(X, n=300):
    """Rows inside and well outside the training range, none of them training rows."""
    low, high = X.min(axis=0), X.max(axis=0)
    span = high - low
    return numpy.random.default_rng(7).uniform(low - 2 * span, high + 2 * span, (n, X.shape[1]))


def assert_same_answers(model, served, X):
    for method in ("predict", "predict_proba"):
        if not hasattr(model, method):
            continue
        expected, got = getattr(model, method)(X), getattr(served, method)(X)
        assert got.dtype == expected.dtype
        if got.dtype.kind == "f":
            numpy.testing.assert_allclose(got, expected, rtol=1e-12)
        else:
            numpy.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("estimator", CLASSIFIERS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("classes", [3, 2], ids=["3 classes", "2 classes"])
def test_classifiers_answer_as_the_estimator(estimator, classes):
    keep = numpy.isin(IRIS_Y, numpy.unique(IRIS_Y)[:classes])
    model = fitted(estimator, IRIS_X[keep], IRIS_Y[keep])
    served = direct_model(model)
    assert isinstance(served, DirectModel)
    assert served.served_by == SERVED_BY
    assert served.__metadata__ is model.__metadata__  # pld's checks read the version's schema
    for X in (IRIS_X, unseen_rows(IRIS_X), IRIS_X[:1]):
        assert_same_answers(model, served, numpy.ascontiguousarray(X))


@pytest.mark.parametrize("estimator", REGRESSORS, ids=lambda e: type(e).__name__)
def test_regressors_answer_as_the_estimator(estimator):
    model = fitted(estimator, DIABETES_X, DIABETES_Y)
    served = direct_model(model)
    assert isinstance(served, DirectModel)
    for X in (DIABETES_X, unseen_rows(DIABETES_X), DIABETES_X[:1]):
        assert_same_answers(model, served, X)


def test_the_estimator_itself_takes_what_is_not_a_finite_float_table():
    model = fitted(LogisticRegression(max_iter=1000), IRIS_X, IRIS_Y)
    served = direct_model(model)
    row = [6.3, 2.5, 4.9, 1.5]
    assert served.predict([row]).tolist() == model.predict([row]).tolist()  # a list
    ints = numpy.array([[6, 2, 5, 1]])
    assert served.predict(ints).tolist() == model.predict(ints).tolist()  # integers
    with pytest.raises(ValueError, match="NaN"):  # scikit-learn's own refusal
        served.predict(numpy.array([[6.3, numpy.nan, 4.9, 1.5]]))
    with pytest.raises(ValueError, match="features"):
        served.predict(numpy.array([[6.3, 2.5, 4.9]]))
    with pytest.raises(ValueError):
        served.predict(numpy.empty((0, 4)))
    assert served.classes_ is model.classes_  # every other attribute is the estimator's
    assert served.score(IRIS_X, IRIS_Y) == model.score(IRIS_X, IRIS_Y)


@pytest.mark.parametrize(
    "model",
    [
        fitted(make_pipeline(StandardScaler(), LogisticRegression()), IRIS_X, IRIS_Y),
        fitted(KNeighborsClassifier(), IRIS_X, IRIS_Y),
        fitted(HistGradientBoostingClassifier(max_iter=5), IRIS_X, IRIS_Y),
    ],
    ids=["pipeline", "k-neighbours", "hist-gradient-boosting"],
)
def test_other_estimators_serve_themselves(model):
    assert direct_model(model) is None


def test_a_model_without_a_numeric_input_schema_serves_itself():
    model = LogisticRegression(max_iter=1000).fit(IRIS_X, IRIS_Y)
    assert direct_model(model) is None  # no metadata at all
    model.__metadata__ = {"input_schema": input_schema(IRIS_X)}
    model.__metadata__["input_schema"]["columns"][2].pop("max")
    assert direct_model(model) is None
    model.__metadata__ = {"input_schema": input_schema(IRIS_X[:, :3])}  # 3 columns, 4 trained
    assert direct_model(model) is None


def test_a_direct_form_that_answers_otherwise_is_not_served(monkeypatch, caplog):
    model = fitted(LogisticRegression(max_iter=1000), IRIS_X, IRIS_Y)
    real = direct._linear_methods

    def off_by_one(model):
        methods = real(model)
        predict = methods["predict"]
        methods["predict"] = lambda X: numpy.roll(predict(X), 1)
        return methods

    monkeypatch.setattr(direct, "_linear_methods", off_by_one)
    with caplog.at_level(logging.WARNING, "pld_plugins.sklearn_direct"):
        assert direct_model(model) is None
    assert "the direct predict gives other labels; the estimator serves" in caplog.text


def test_a_direct_form_that_raises_is_not_served(monkeypatch):
    model = fitted(LogisticRegression(max_iter=1000), IRIS_X, IRIS_Y)

    def broken(model):
        return {"predict": lambda X: 1 / 0}

    monkeypatch.setattr(direct, "_linear_methods", broken)
    assert pld_serve_model(model=model, config=None) is None


class _Config(dict):
    def error(self, message, key):
        return ValueError(f"{key}: {message}")


@pytest.mark.parametrize(
    ("entry", "served"),
    [(None, True), (True, True), ({"enabled": True}, True), (False, False)],
)
def test_the_config_switches_it(entry, served):
    model = fitted(LogisticRegression(max_iter=1000), IRIS_X, IRIS_Y)
    config = _Config() if entry is None else _Config(sklearn_direct=entry)
    answer = pld_serve_model(model=model, config=config)
    assert isinstance(answer, DirectModel) if served else answer is None


def test_a_bad_switch_is_a_config_error():
    model = fitted(LogisticRegression(max_iter=1000), IRIS_X, IRIS_Y)
    with pytest.raises(ValueError, match="sklearn_direct: must be True or False, not 'yes'"):
        pld_serve_model(model=model, config=_Config(sklearn_direct="yes"))


def test_a_pickled_direct_model_is_rebuilt_from_the_estimator():
    import pickle

    model = fitted(LogisticRegression(max_iter=1000), IRIS_X, IRIS_Y)
    copy = pickle.loads(pickle.dumps(direct_model(model)))
    assert isinstance(copy, DirectModel)
    assert copy.predict(IRIS_X).tolist() == model.predict(IRIS_X).tolist()
