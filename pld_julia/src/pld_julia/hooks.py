"""Hook implementations of pld-julia, loaded through the ``pld_julia`` entry point (group ``pld``).

Registers the Julia models under short names and Palladium 1.2's dotted names. The factories
import the models (numpy, scikit-learn) only when a config builds one, and Julia itself starts
only when a model fits, predicts or is unpickled: ``pld plugins`` and server start-up stay fast.
The factories repeat the models' signature so that pld checks a config's arguments up front.
"""

from __future__ import annotations

from typing import Any

from pld_core import hookimpl


def julia_classifier(
    fit_func: str,
    predict_func: str,
    fit_kwargs: dict[str, Any] | None = None,
    predict_kwargs: dict[str, Any] | None = None,
    encode_labels: bool = False,
    julia_file: str | None = None,
) -> Any:
    """Build a :class:`pld_julia.models.ClassificationModel`."""
    from pld_julia.models import ClassificationModel

    return ClassificationModel(
        fit_func, predict_func, fit_kwargs, predict_kwargs, encode_labels, julia_file
    )


def julia_regressor(
    fit_func: str,
    predict_func: str,
    fit_kwargs: dict[str, Any] | None = None,
    predict_kwargs: dict[str, Any] | None = None,
    encode_labels: bool = False,
    julia_file: str | None = None,
) -> Any:
    """Build a :class:`pld_julia.models.RegressionModel`."""
    from pld_julia.models import RegressionModel

    return RegressionModel(
        fit_func, predict_func, fit_kwargs, predict_kwargs, encode_labels, julia_file
    )


@hookimpl
def pld_register_models(register: Any) -> None:
    register("julia-classifier", julia_classifier, aliases=["palladium.julia.ClassificationModel"])
    register("julia-regressor", julia_regressor, aliases=["palladium.julia.RegressionModel"])
