"""Julia models as scikit-learn estimators: Palladium's ``palladium.julia`` on juliacall.

The Julia side is two functions: ``fit_func(X, y; fit_kwargs...)`` returns a fitted state and
``predict_func(state, X; predict_kwargs...)`` returns one prediction per sample. X reaches Julia
as features x samples (Julia's column-major convention), so it is transposed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder

from pld_core import PldError
from pld_julia.bridge import JuliaSession, get_session

__all__ = ["ClassificationModel", "JuliaModel", "RegressionModel"]


class JuliaModel(BaseEstimator):
    """Fit and predict with two Julia functions named by their dotted names.

    :param fit_func: dotted Julia name (``'SVM.svm'``) called as ``fit_func(X, y; fit_kwargs...)``.
    :param predict_func: called as ``predict_func(state, X; predict_kwargs...)``, where ``state``
        is what ``fit_func`` returned.
    :param fit_kwargs: keyword arguments for ``fit_func``.
    :param predict_kwargs: keyword arguments for ``predict_func``.
    :param encode_labels: encode ``y`` as 0..k-1 with a LabelEncoder before fitting, and decode
        the predictions; for string labels that the Julia function cannot take.
    :param julia_file: a Julia file to ``include()`` first (relative to the working directory),
        for functions that are not in an installed Julia package.
    """

    _prepared: JuliaSession | None = None  # the session our file and functions are loaded in

    def __init__(
        self,
        fit_func: str,
        predict_func: str,
        fit_kwargs: dict[str, Any] | None = None,
        predict_kwargs: dict[str, Any] | None = None,
        encode_labels: bool = False,
        julia_file: str | None = None,
    ):
        self.fit_func = fit_func
        self.predict_func = predict_func
        self.fit_kwargs = fit_kwargs
        self.predict_kwargs = predict_kwargs
        self.encode_labels = encode_labels
        self.julia_file = julia_file

    def _session(self) -> JuliaSession:
        """Start Julia (once per process) and load the file or packages our functions need."""
        session = get_session()
        if self._prepared is session:  # the predict hot path: nothing to do
            return session
        recorded = getattr(self, "julia_file_path_", None)  # where fit found it, if still there
        julia_file = recorded if recorded and Path(recorded).is_file() else self.julia_file
        if julia_file:
            session.include(julia_file)
        session.function(self.fit_func)
        session.function(self.predict_func)
        self._prepared = session
        return session

    def fit(self, X: Any, y: Any) -> JuliaModel:
        """Fit the Julia model; X goes to Julia transposed (features x samples) as float64."""
        X = _as_samples(X)
        y = np.asarray(y)
        if self.encode_labels:
            self.label_encoder_ = LabelEncoder()
            y = self.label_encoder_.fit_transform(y)
        else:
            self.__dict__.pop("label_encoder_", None)
            if y.dtype.kind not in "biuf":
                raise PldError(
                    f"{type(self).__name__}: the target has non-numeric labels ({y.dtype}); "
                    "set encode_labels=True to encode them for Julia"
                )
        self._prepared = None  # parameters may have changed since the last fit
        self.__dict__.pop("julia_file_path_", None)
        if self.julia_file:
            self.julia_file_path_ = str(Path(self.julia_file).resolve())
        session = self._session()
        self._fitted = session.call(
            self.fit_func,
            session.to_matrix(_features_by_samples(X)),
            session.to_vector(np.ascontiguousarray(y)),
            **(self.fit_kwargs or {}),
        )
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: Any) -> Any:
        """One prediction per row of X, as a numpy array (decoded when labels were encoded)."""
        fitted = getattr(self, "_fitted", None)
        if fitted is None:
            raise PldError(f"{type(self).__name__} is not fitted yet: call fit first")
        X = _as_samples(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} was fitted with "
                f"{self.n_features_in_}"
            )
        session = self._session()
        result = session.call(
            self.predict_func,
            fitted,
            session.to_matrix(_features_by_samples(X)),
            **(self.predict_kwargs or {}),
        )
        predictions = session.to_numpy(result)
        if self.encode_labels:
            predictions = self.label_encoder_.inverse_transform(self._codes(predictions))
        return predictions

    def _codes(self, predictions: Any) -> Any:
        if predictions.dtype.kind == "f" and np.array_equal(predictions, np.round(predictions)):
            return predictions.astype(np.int64)
        if predictions.dtype.kind in "iu":
            return predictions
        raise PldError(
            f"Julia function {self.predict_func} returned {predictions.dtype} values, not the "
            "integer label codes that encode_labels needs"
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the fitted Julia state as bytes written by Julia's Serialization."""
        state = dict(super().__getstate__())
        state.pop("_prepared", None)
        fitted = state.pop("_fitted", None)  # a live Julia value: meaningless in another process
        if fitted is not None:
            state["_fitted_bytes"] = get_session().serialize(fitted)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore eagerly: start Julia, load the functions, deserialize the fitted state."""
        state = dict(state)
        data = state.pop("_fitted_bytes", None)
        super().__setstate__(state)
        self._fitted = None
        self._prepared = None
        if data is not None:
            self._fitted = self._session().deserialize(data)


class ClassificationModel(ClassifierMixin, JuliaModel):
    """A Julia classifier; ``score`` is the accuracy. Palladium: ``palladium.julia``."""

    def fit(self, X: Any, y: Any) -> ClassificationModel:
        super().fit(X, y)
        encoder = getattr(self, "label_encoder_", None)
        self.classes_ = encoder.classes_ if encoder is not None else np.unique(np.asarray(y))
        return self


class RegressionModel(RegressorMixin, JuliaModel):
    """A Julia regressor; ``score`` is R² (``r2_score(y_true, y_pred)``)."""


def _as_samples(X: Any) -> Any:
    """X as a 2-d float64 array, one row per sample."""
    array = np.asarray(X, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"X must be 2-dimensional (samples x features), got shape {array.shape}")
    return array


def _features_by_samples(X: Any) -> Any:
    """The transposed, C-contiguous copy that Julia gets: one column per sample."""
    return np.ascontiguousarray(X.T, dtype=np.float64)
