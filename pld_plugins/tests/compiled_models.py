"""Models for the compiled-inference tests, importable by worker processes (``sys.path``).

``Unconvertible`` has no skl2onnx converter. ``Tweaked`` is converted as the plain
LogisticRegression it derives from, but its own ``predict_proba`` is 1e-4 (relative) larger:
an ONNX form whose probabilities differ from the Python model's.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class Unconvertible(ClassifierMixin, BaseEstimator):
    """A LogisticRegression inside an estimator skl2onnx knows nothing about."""

    def __init__(self, C: float = 0.3) -> None:
        self.C = C

    def fit(self, X: Any, y: Any) -> Unconvertible:
        self.inner_ = LogisticRegression(C=self.C).fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict(self, X: Any) -> Any:
        return self.inner_.predict(X)

    def predict_proba(self, X: Any) -> Any:
        return self.inner_.predict_proba(X)


class Tweaked(LogisticRegression):
    """Probabilities 1e-4 (relative) larger: not what its ONNX form computes."""

    def predict_proba(self, X: Any) -> Any:
        return super().predict_proba(X) * (1 + 1e-4)


def register_tweaked_converter() -> None:
    """Let skl2onnx convert ``Tweaked`` as a LogisticRegression."""
    from skl2onnx import update_registered_converter
    from skl2onnx.operator_converters.linear_classifier import convert_sklearn_linear_classifier
    from skl2onnx.shape_calculators.linear_classifier import (
        calculate_linear_classifier_output_shapes,
    )

    update_registered_converter(
        Tweaked,
        "PldTestTweaked",
        calculate_linear_classifier_output_shapes,
        convert_sklearn_linear_classifier,
        options={
            "zipmap": [True, False, "columns"],
            "nocl": [True, False],
            "raw_scores": [True, False],
        },
    )
