"""Hook implementations of pld-r, loaded through the ``pld_r`` entry point (group ``pld``).

Registers the R components under short names and Palladium 1.2's ``palladium.R.*`` names.
Importing this module stays cheap: rpy2 and scikit-learn are imported when a component is
built or used. The model factories below mirror the classes' signatures, so pld checks a
config's arguments without importing scikit-learn; a test keeps them in step.
"""

from __future__ import annotations

from typing import Any

from pld_core import hookimpl
from pld_r.dataset import DatasetLoader


def r_classifier(
    scriptname: str,
    funcname: str,
    encode_labels: bool = False,
    fit_kwargs: dict[str, Any] | None = None,
    predict_funcname: str | None = None,
) -> Any:
    """Build a :class:`pld_r.models.ClassificationModel`."""
    from pld_r.models import ClassificationModel

    return ClassificationModel(scriptname, funcname, encode_labels, fit_kwargs, predict_funcname)


def r_regressor(
    scriptname: str,
    funcname: str,
    fit_kwargs: dict[str, Any] | None = None,
    predict_funcname: str | None = None,
) -> Any:
    """Build a :class:`pld_r.models.RegressionModel`."""
    from pld_r.models import RegressionModel

    return RegressionModel(scriptname, funcname, fit_kwargs, predict_funcname)


def r_transform() -> Any:
    """Build a :class:`pld_r.transform.Rpy2Transform`."""
    from pld_r.transform import Rpy2Transform

    return Rpy2Transform()


@hookimpl
def pld_register_dataset_loaders(register: Any) -> None:
    register("r-dataset", DatasetLoader, aliases=["palladium.R.DatasetLoader"])


@hookimpl
def pld_register_models(register: Any) -> None:
    register("r-classifier", r_classifier, aliases=["palladium.R.ClassificationModel"])
    register("r-regressor", r_regressor, aliases=["palladium.R.RegressionModel"])


@hookimpl
def pld_register_components(register: Any) -> None:
    register("r-transform", r_transform, aliases=["palladium.R.Rpy2Transform"])
