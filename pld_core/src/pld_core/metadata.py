"""The metadata every stored version carries: when, what, how well, with which versions."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from typing import Any

TRACKED_DISTRIBUTIONS = ("pld-core", "pld-plugins", "scikit-learn")


def distribution_versions() -> dict[str, str]:
    """Installed versions of pld and the libraries a pickled model depends on."""
    versions = {"python": platform.python_version()}
    for dist in TRACKED_DISTRIBUTIONS:
        try:
            versions[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def jsonable(value: Any) -> Any:
    """Turn parameters (estimators, numpy scalars, tuples) into JSON-safe values."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "shape", None) == ():
        return jsonable(item())
    return repr(value)


def model_params(model: Any) -> dict[str, Any]:
    """The model's constructor parameters (``get_params(deep=False)``) as JSON-safe values."""
    get_params = getattr(model, "get_params", None)
    if not callable(get_params):
        return {}
    try:
        return jsonable(get_params(deep=False))
    except Exception:  # a model whose get_params is broken still gets stored
        return {}


def feature_names(X: Any, loader: Any, model: Any) -> list[str] | None:
    """Column names of the training data, when any source knows them."""
    for candidate in (
        getattr(X, "columns", None),
        getattr(loader, "feature_names_", None),
        getattr(model, "feature_names_in_", None),
    ):
        if candidate is not None:
            return [str(name) for name in list(candidate)]
    return None


def training_metadata(model: Any, X: Any, loader: Any) -> dict[str, Any]:
    """Metadata recorded when a model is fitted."""
    created = datetime.now(UTC).isoformat(timespec="seconds")
    info: dict[str, Any] = {
        "created": created,
        "train_timestamp": created,  # Palladium's name for the same moment
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "params": model_params(model),
        "versions": distribution_versions(),
    }
    names = feature_names(X, loader, model)
    if names is not None:
        info["feature_names"] = names
    return info
