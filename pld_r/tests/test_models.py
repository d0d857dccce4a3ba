"""R models as scikit-learn estimators, against real R: fit, predict, scores, params, pickle."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy
import pandas
import pytest
from sklearn.base import clone
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV

from pld_r import session
from pld_r.dataset import DatasetLoader
from pld_r.models import ClassificationModel, RegressionModel

pytestmark = pytest.mark.r

SAMPLE = [[6.3, 2.5, 4.9, 1.5], [5.1, 3.5, 1.4, 0.2], [7.7, 3.0, 6.1, 2.3]]
EXPECTED = ["versicolor", "setosa", "virginica"]


@pytest.fixture
def iris(script):
    return DatasetLoader(script, "iris.data")()


@pytest.mark.parametrize("encode_labels", [False, True])
def test_classifier_fits_and_predicts_original_labels(script, iris, encode_labels):
    X, y = iris
    model = ClassificationModel(script, "train.forest", encode_labels=encode_labels)
    assert model.fit(X, y) is model
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert list(model.predict(numpy.array(SAMPLE))) == EXPECTED
    assert list(model.predict(X.iloc[[0]])) == [y[0]]  # a DataFrame works as well
    assert model.score(X, y) == accuracy_score(y, model.predict(X)) >= 0.95


def test_predict_proba_has_one_column_per_class_summing_to_one(script, iris):
    X, y = iris
    model = ClassificationModel(script, "train.forest", encode_labels=True).fit(X, y)
    proba = model.predict_proba(numpy.array(SAMPLE))
    assert proba.shape == (3, 3)
    numpy.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(model.classes_[proba.argmax(axis=1)]) == EXPECTED


def test_numeric_labels_and_a_missing_class_column(script, iris):
    X, y = iris
    codes = numpy.unique(y, return_inverse=True)[1] + 10  # labels 10, 11, 12
    model = ClassificationModel(script, "train.forest").fit(X.to_numpy(), codes)
    assert list(model.predict(numpy.array(SAMPLE))) == [11, 10, 12]


def test_fit_kwargs_reach_r(script, iris):
    X, y = iris
    model = ClassificationModel(script, "train.forest", fit_kwargs={"ntree": 7}).fit(X, y)
    assert list(model.rmodel_.rx2("ntree")) == [7]


def test_regressor_r2_is_y_true_then_y_pred(script):
    X, y = DatasetLoader(script, "tooth")()
    model = RegressionModel(script, "train.lm")
    assert model.fit(X, y) is model
    y_pred = model.predict(X)
    assert model.score(X, y) == pytest.approx(r2_score(y, y_pred))
    assert model.score(X, y) != pytest.approx(r2_score(y_pred, y))  # Palladium's swapped order
    r_squared = session.function(script, "lm.r.squared")(model.rmodel_)[0]
    assert model.score(X, y) == pytest.approx(r_squared)  # R's own R² agrees


def test_get_params_clone_and_set_params(script):
    model = ClassificationModel(script, "train.forest", encode_labels=True, fit_kwargs={"a": 1})
    params = model.get_params()
    assert params == {
        "scriptname": script,
        "funcname": "train.forest",
        "encode_labels": True,
        "fit_kwargs": {"a": 1},
        "predict_funcname": None,
    }
    copy = clone(model)
    assert copy.get_params() == params and copy.fit_kwargs is not model.fit_kwargs
    copy.set_params(fit_kwargs__ntree=5, encode_labels=False)
    assert copy.fit_kwargs == {"a": 1, "ntree": 5} and copy.encode_labels is False
    assert model.fit_kwargs == {"a": 1}
    assert set(RegressionModel(script, "train.lm").get_params()) == {
        "scriptname",
        "funcname",
        "fit_kwargs",
        "predict_funcname",
    }


def test_grid_search_over_an_r_parameter(script, iris):
    X, y = iris
    search = GridSearchCV(
        ClassificationModel(script, "train.forest", encode_labels=True),
        {"fit_kwargs__shuffle": [True, False]},
        cv=3,
    )
    search.fit(X, y)
    worse, better = search.cv_results_["mean_test_score"]
    assert worse < 0.6 < 0.9 < better
    assert search.best_params_ == {"fit_kwargs__shuffle": False}
    assert search.best_estimator_.fit_kwargs == {"shuffle": False}
    assert search.best_estimator_.score(X, y) >= 0.95


def test_pickle_round_trip_in_this_process(script, iris):
    X, y = iris
    model = ClassificationModel(script, "train.forest", encode_labels=True).fit(X, y)
    expected = model.predict_proba(numpy.array(SAMPLE))
    data = pickle.dumps(model)
    assert "rmodel_" in model.__dict__  # pickling does not strip the live model
    copy = pickle.loads(data)
    assert "rmodel_" in copy.__dict__  # unserialized at load: no request pays for it
    numpy.testing.assert_array_equal(copy.predict_proba(numpy.array(SAMPLE)), expected)
    with pytest.raises(Exception, match="not fitted"):
        ClassificationModel(script, "train.forest").predict(numpy.array(SAMPLE))


def test_pickle_loads_and_predicts_in_a_new_process(script, iris, tmp_path):
    X, y = iris
    model = ClassificationModel(script, "train.forest", encode_labels=True).fit(X, y)
    path = tmp_path / "model.pickle"
    path.write_bytes(pickle.dumps(model))
    code = (
        "import json, pickle, sys\n"
        "model = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "sample = json.loads(sys.argv[2])\n"
        "print(json.dumps([model.predict(sample).tolist(), model.predict_proba(sample).tolist()]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path), json.dumps(SAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    labels, proba = json.loads(result.stdout)
    assert labels == EXPECTED
    numpy.testing.assert_allclose(proba, model.predict_proba(numpy.array(SAMPLE)))


def test_predicts_from_other_threads(script, iris):
    """A threaded server predicts in threads that have no rpy2 conversion context of their own."""
    X, y = iris
    model = ClassificationModel(script, "train.forest", encode_labels=True).fit(X, y)
    expected = list(model.predict(numpy.array(SAMPLE)))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: list(model.predict(numpy.array(SAMPLE))), range(8)))
    assert answers == [expected] * 8


def test_request_rows_become_the_training_data_frame(script, iris):
    """Numeric rows take a fast path; R must see the same data.frame as through pandas."""
    X, y = iris
    model = ClassificationModel(script, "train.forest").fit(X, y)
    rows = numpy.array([*SAMPLE, [1, 2, 3, 4]])
    fast = model._r_data(rows)
    slow = session.to_r(pandas.DataFrame(rows, columns=X.columns))
    with session.rcontext():  # pandas adds its index as row names; R's predict ignores them
        assert session.base("all.equal")(fast, slow, **{"check.attributes": False})[0] is True
        assert list(session.base("class")(fast)) == ["data.frame"]
        assert list(session.base("names")(fast)) == list(X.columns)
    by_frame = model.predict(pandas.DataFrame(rows, columns=X.columns))
    assert list(model.predict(rows)) == list(by_frame)
    assert list(model.predict(rows.astype(int))) == list(by_frame)
