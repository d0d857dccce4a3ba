"""The direct forms of scikit-learn estimators, and their verification (see the package).

Imported when a model is loaded for serving, so commands that serve nothing never import numpy.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy

from pld_plugins.sklearn_direct import SERVED_BY

logger = logging.getLogger(__name__)

#: Largest relative difference allowed between the direct answer and the estimator's.
RTOL = 1e-9
#: Rows drawn to verify the direct form on (plus each column's extremes).
VERIFY_ROWS = 256

Method = Callable[[Any], Any]


class DirectModel:
    """Predicts as ``model`` does, without re-validating an input pld has checked.

    An input that is not a finite 2-D float64 array with the trained number of columns goes
    to the estimator's own method, which validates (and refuses) it as usual. Any other
    attribute is the estimator's.
    """

    served_by = SERVED_BY

    def __init__(self, model: Any, n_features: int, methods: Mapping[str, Method]):
        self.model = model
        self.__metadata__ = getattr(model, "__metadata__", None)
        self._n_features = n_features
        self._methods = dict(methods)
        for name, direct in self._methods.items():
            setattr(self, name, self._guarded(direct, getattr(model, name)))

    def _guarded(self, direct: Method, own: Callable[..., Any]) -> Callable[..., Any]:
        n_features = self._n_features
        ndarray, float64, isfinite = numpy.ndarray, numpy.float64, numpy.isfinite

        def method(X: Any, **params: Any) -> Any:
            if (
                params
                or type(X) is not ndarray
                or X.dtype != float64
                or X.ndim != 2
                or X.shape[1] != n_features
                or not X.shape[0]
                or not isfinite(X).all()
            ):
                return own(X, **params)
            return direct(X)

        method.__doc__ = own.__doc__
        return method

    def __getattr__(self, name: str) -> Any:  # only for names not set above
        return getattr(self.model, name)

    def __repr__(self) -> str:
        return f"DirectModel({self.model!r})"

    def __reduce__(self) -> tuple[Any, tuple[Any]]:  # pickled as the estimator, rebuilt
        return _served, (self.model,)


def _served(model: Any) -> Any:
    return direct_model(model) or model


def direct_model(model: Any) -> DirectModel | None:
    """A :class:`DirectModel` for ``model`` that answers as it does on verification rows, or
    ``None`` (not a known family, no numeric input schema, or the answers differ)."""
    rows = verification_rows(model)
    if rows is None:
        return None
    methods = direct_methods(model)
    if not methods:
        return None
    for name, direct in methods.items():
        with warnings.catch_warnings():  # a frame-trained model warns of an array's lack of
            warnings.simplefilter("ignore")  # names; pld's mapping already fixed the order
            expected = getattr(model, name)(rows)
        problem = _compare(name, expected, direct(rows))
        if problem is not None:
            logger.warning(
                "%s: the direct %s %s; the estimator serves", type(model).__name__, name, problem
            )
            return None
    return DirectModel(model, rows.shape[1], methods)


def verification_rows(model: Any) -> Any:
    """Rows across and beyond each column's stored training range, or ``None`` without a
    complete numeric input schema."""
    schema = (getattr(model, "__metadata__", None) or {}).get("input_schema")
    columns = schema.get("columns") if isinstance(schema, Mapping) else None
    if not isinstance(columns, list) or not columns:
        return None
    if getattr(model, "n_features_in_", None) != len(columns):
        return None
    lows, highs = [], []
    for column in columns:
        low, high = column.get("min"), column.get("max")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
            return None
        span = (high - low) or 1.0
        lows.append(low - span)
        highs.append(high + span)
    generator = numpy.random.default_rng(0)
    low, high = numpy.array(lows, dtype=float), numpy.array(highs, dtype=float)
    drawn = generator.uniform(low, high, size=(VERIFY_ROWS, len(columns)))
    return numpy.ascontiguousarray(numpy.vstack([drawn, low + numpy.diag(high - low)]))


def _compare(name: str, expected: Any, got: Any) -> str | None:
    expected, got = numpy.asarray(expected), numpy.asarray(got)
    if expected.shape != got.shape or expected.dtype != got.dtype:
        return f"answers {got.dtype}{got.shape}, not {expected.dtype}{expected.shape}"
    if expected.dtype.kind not in "fc":
        return None if numpy.array_equal(expected, got) else "gives other labels"
    if not numpy.allclose(got, expected, rtol=RTOL, atol=0.0, equal_nan=True):
        return f"differs by more than {RTOL:g} relative"
    return None


# -- the families ------------------------------------------------------------------------------


def direct_methods(model: Any) -> dict[str, Method]:
    """The direct ``predict`` (and ``predict_proba``) of a known estimator family, else ``{}``."""
    name = type(model).__name__
    module = type(model).__module__
    if not module.startswith("sklearn."):
        return {}
    if module.startswith("sklearn.tree.") and name.startswith(("DecisionTree", "ExtraTree")):
        return _tree_methods(model)
    if module.startswith("sklearn.ensemble.") and name in _FORESTS:
        return _forest_methods(model)
    if module.startswith(("sklearn.linear_model.", "sklearn.svm.")) and name in _LINEAR:
        return _linear_methods(model)
    return {}


_LINEAR = {
    # classifiers: label = argmax of X @ coef.T + intercept (binary: score > 0)
    "LogisticRegression",
    "RidgeClassifier",
    "SGDClassifier",
    "Perceptron",
    "PassiveAggressiveClassifier",
    "LinearSVC",
    # regressors: X @ coef.T + intercept
    "LinearRegression",
    "Ridge",
    "Lasso",
    "ElasticNet",
    "LassoLars",
    "Lars",
    "BayesianRidge",
    "ARDRegression",
    "HuberRegressor",
    "SGDRegressor",
    "LinearSVR",
}
_FORESTS = {
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
}


def _linear_methods(model: Any) -> dict[str, Method]:
    coef = numpy.asarray(model.coef_, dtype=float)
    intercept = numpy.asarray(model.intercept_, dtype=float)
    weights = numpy.ascontiguousarray(coef.T)
    classes = getattr(model, "classes_", None)
    if classes is None:  # a regressor: one value per row (or one per target)

        def predict_value(X: Any) -> Any:
            return X @ weights + intercept

        return {"predict": predict_value}
    if coef.ndim == 1:  # a binary RidgeClassifier keeps one row as a vector
        coef, weights = coef[None, :], weights[:, None]
    if coef.ndim != 2:
        return {}
    binary = coef.shape[0] == 1

    def scores(X: Any) -> Any:
        found = X @ weights + intercept
        return found.ravel() if binary else found

    def predict(X: Any) -> Any:
        found = scores(X)
        return classes.take((found > 0).astype(numpy.intp) if binary else found.argmax(axis=1))

    methods: dict[str, Method] = {"predict": predict}
    if type(model).__name__ == "LogisticRegression":
        from scipy.special import expit
        from sklearn.utils.extmath import softmax

        def predict_proba(X: Any) -> Any:
            found = scores(X)
            if binary:
                positive = expit(found)
                return numpy.column_stack([1 - positive, positive])
            return softmax(found, copy=False)

        methods["predict_proba"] = predict_proba
    return methods


def _tree_methods(model: Any) -> dict[str, Method]:
    # a tree predicts on float32, as its own validation would convert the input
    def predict(X: Any) -> Any:
        return model.predict(X.astype(numpy.float32), check_input=False)

    methods: dict[str, Method] = {"predict": predict}
    if hasattr(model, "classes_"):

        def predict_proba(X: Any) -> Any:
            return model.predict_proba(X.astype(numpy.float32), check_input=False)

        methods["predict_proba"] = predict_proba
    return methods


def _forest_methods(model: Any) -> dict[str, Method]:
    trees = list(model.estimators_)
    if getattr(model, "n_outputs_", 1) != 1 or not trees:
        return {}
    count = float(len(trees))
    classes = getattr(model, "classes_", None)
    if classes is None:

        def predict_value(X: Any) -> Any:
            X = X.astype(numpy.float32)
            total = trees[0].predict(X, check_input=False)
            for tree in trees[1:]:
                total += tree.predict(X, check_input=False)
            return total / count

        return {"predict": predict_value}

    def predict_proba(X: Any) -> Any:
        X = X.astype(numpy.float32)
        total = trees[0].predict_proba(X, check_input=False)
        for tree in trees[1:]:
            total += tree.predict_proba(X, check_input=False)
        return total / count

    def predict(X: Any) -> Any:
        return classes.take(predict_proba(X).argmax(axis=1))

    return {"predict": predict, "predict_proba": predict_proba}
