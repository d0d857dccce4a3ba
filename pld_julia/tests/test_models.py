"""The Julia models' Python side, against the juliacall TEST DOUBLE (no Julia runs here).

What is checked is what pld_julia sends across the bridge and does with the answers:
transposition, dtypes, keyword arguments, label encoding, error mapping and estimator
behaviour. Whether real Julia agrees is for test_real_julia.py, where Julia is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from pld_core import PldError
from pld_julia.models import ClassificationModel, RegressionModel


@pytest.fixture
def model(centroid_file) -> ClassificationModel:
    return ClassificationModel(
        "NearestCentroid.fit",
        "NearestCentroid.predict",
        encode_labels=True,
        julia_file=str(centroid_file),
    )


def test_x_reaches_julia_as_features_by_samples_float64_contiguous(fake_julia, model, iris):
    X, y = iris
    model.fit(X[:100].astype(np.float32), y[:100])
    [matrix] = fake_julia.calls_to("to_matrix")[0].args
    assert matrix.shape == (4, 100)  # features x samples
    assert matrix.dtype == np.float64
    assert matrix.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(matrix, X[:100].T.astype(np.float32))
    [fit] = fake_julia.calls_to("NearestCentroid.fit")
    assert [a.shape for a in fit.args] == [(4, 100), (100,)]  # native Julia arrays

    model.predict(X[100:103])
    [matrix] = fake_julia.calls_to("to_matrix")[1].args
    assert matrix.shape == (4, 3) and matrix.dtype == np.float64


def test_labels_are_encoded_for_julia_and_decoded_on_the_way_back(fake_julia, model, iris):
    X, y = iris
    model.fit(X[:100], y[:100])
    [labels] = fake_julia.calls_to("to_vector")[0].args
    assert labels.dtype.kind == "i" and set(labels) == {0, 1, 2}
    predictions = model.predict(X[100:])
    assert isinstance(predictions, np.ndarray)
    assert set(predictions) <= {"Iris-setosa", "Iris-versicolor", "Iris-virginica"}
    assert list(model.classes_) == ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]
    assert model.score(X[100:], y[100:]) == pytest.approx(0.96)


def test_numeric_labels_pass_through_without_encoding(fake_julia, centroid_file, iris):
    X, y = iris
    binary = np.where(y == "Iris-setosa", 1, -1)
    model = ClassificationModel(
        "NearestCentroid.fit", "NearestCentroid.predict", julia_file=str(centroid_file)
    )
    model.fit(X[:100], binary[:100])
    [labels] = fake_julia.calls_to("to_vector")[0].args
    np.testing.assert_array_equal(labels, binary[:100])
    predictions = model.predict(X[100:])
    assert predictions.dtype.kind == "i"
    assert model.score(X[100:], binary[100:]) == 1.0
    assert list(model.classes_) == [-1, 1]


def test_string_labels_without_encoding_are_refused_before_julia(fake_julia, centroid_file, iris):
    X, y = iris
    model = ClassificationModel(
        "NearestCentroid.fit", "NearestCentroid.predict", julia_file=str(centroid_file)
    )
    with pytest.raises(PldError, match="non-numeric labels.*encode_labels=True"):
        model.fit(X, y)
    assert fake_julia.calls_to("NearestCentroid.fit") == []


def test_fit_and_predict_kwargs_pass_through(fake_julia, centroid_file, iris):
    X, y = iris
    model = ClassificationModel(
        "NearestCentroid.fit",
        "NearestCentroid.predict",
        fit_kwargs={"shrinkage": 0.25},
        predict_kwargs={},
        encode_labels=True,
        julia_file=str(centroid_file),
    )
    model.fit(X, y).predict(X[:2])
    assert fake_julia.calls_to("NearestCentroid.fit")[0].kwargs == {"shrinkage": 0.25}
    assert fake_julia.calls_to("NearestCentroid.predict")[0].kwargs == {}


def test_julia_exception_becomes_one_clear_error_naming_the_function(fake_julia, model, iris):
    X, y = iris
    model.set_params(fit_kwargs={"shrinkage": 2.0})
    with pytest.raises(PldError) as raised:
        model.fit(X, y)
    message = str(raised.value)
    assert message == (
        "Julia function NearestCentroid.fit failed: DomainError with 2.0: shrinkage must be "
        "between 0 and 1"
    )
    assert "\n" not in message  # the Julia stack trace stays in the chained exception
    assert isinstance(raised.value.__cause__, fake_julia.JuliaError)


def test_unknown_keyword_is_a_julia_method_error(fake_julia, model, iris):
    X, y = iris
    model.set_params(fit_kwargs={"bogus": 1})
    with pytest.raises(PldError, match=r"NearestCentroid\.fit failed: MethodError: .*bogus"):
        model.fit(X, y)


def test_predict_before_fit_and_wrong_width(fake_julia, model, iris):
    X, y = iris
    with pytest.raises(PldError, match="not fitted"):
        model.predict(X)
    model.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but ClassificationModel"):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match="2-dimensional"):
        model.predict(X[0])


def test_regressor_imports_a_package_and_scores_r2(fake_julia):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 3.0
    model = RegressionModel("LeastSquares.fit", "LeastSquares.predict", {"intercept": True})
    assert model.fit(X, y) is model
    assert "import LeastSquares" in [c.args[0] for c in fake_julia.calls_to("seval")]
    np.testing.assert_allclose(model.predict(X[:5]), y[:5])
    assert model.score(X, y) == pytest.approx(1.0)
    # r2_score(y_true, y_pred): a constant prediction scores 0 only with y_true first
    model.set_params(fit_kwargs={"intercept": True}).fit(np.zeros((40, 1)), y)
    assert model.score(np.zeros((40, 1)), y) == pytest.approx(0.0, abs=1e-12)


def test_get_params_and_clone(fake_julia, model, iris):
    params = model.get_params()
    assert params == {
        "fit_func": "NearestCentroid.fit",
        "predict_func": "NearestCentroid.predict",
        "fit_kwargs": None,
        "predict_kwargs": None,
        "encode_labels": True,
        "julia_file": model.julia_file,
    }
    X, y = iris
    fitted = model.fit(X, y)
    copy = clone(fitted)
    assert copy.get_params() == params
    assert not hasattr(copy, "_fitted") and not hasattr(copy, "classes_")


def test_grid_search_over_fit_kwargs(fake_julia, model, iris):
    X, y = iris
    grid = [{"shrinkage": 0.0}, {"shrinkage": 0.9}]
    search = GridSearchCV(model, {"fit_kwargs": grid}, cv=3).fit(X, y)
    assert search.best_params_ == {"fit_kwargs": {"shrinkage": 0.0}}
    assert search.best_score_ > 0.9
    shrinkages = {c.kwargs["shrinkage"] for c in fake_julia.calls_to("NearestCentroid.fit")}
    assert shrinkages == {0.0, 0.9}
