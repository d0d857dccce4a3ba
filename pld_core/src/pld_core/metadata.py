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
    """Plain JSON values: numpy scalars unwrapped, tuples as lists, NaN as None, others repr'd."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if value != value else value
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
        params = jsonable(get_params(deep=False))
    except Exception:  # a model whose get_params is broken still gets stored
        return {}
    return params if isinstance(params, dict) else {}


def feature_names(X: Any, loader: Any, model: Any = None) -> list[str] | None:
    """Column names of the training data, when any source knows them."""
    for candidate in (
        getattr(X, "columns", None),
        getattr(loader, "feature_names_", None),
        getattr(model, "feature_names_in_", None),
    ):
        if candidate is not None:
            return [str(name) for name in list(candidate)]
    return None


#: A text column with more distinct values than this is free text, not categories: none are kept.
MAX_CATEGORIES = 1000


def input_schema(X: Any, names: list[str] | None = None) -> dict[str, Any] | None:
    """What each input column was at training time: name, type, missing values, values seen.

    Per column: ``name``, ``type`` (the dtype's name), ``nullable`` (whether values were
    missing; ``None`` where it cannot be told, as in an array of Python objects), for numbers
    the observed ``min`` and ``max``, for text the ``categories`` seen (up to
    :data:`MAX_CATEGORIES`). pld checks every prediction's input against it
    (``pld_core.input_check``). Works on pandas frames and 2-d arrays by duck typing.
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and callable(getattr(X, "isna", None)):  # a DataFrame
        missing = X.isna().any()
        columns = [
            {
                "name": str(name),
                "type": str(dtype),
                "nullable": bool(missing[name]),
                **_observed(X[name].to_numpy()),
            }
            for name, dtype in dtypes.items()
        ]
        return {"n_features": len(columns), "columns": columns}
    shape, dtype = getattr(X, "shape", None), getattr(X, "dtype", None)
    if shape is None or dtype is None or len(shape) != 2:
        return None
    n_features = int(shape[1])
    if dtype.kind == "f":
        missing = [bool(flag) for flag in (X != X).any(axis=0)]  # NaN is not equal to itself
    elif dtype.kind in "iub":
        missing = [False] * n_features
    else:
        missing = [None] * n_features
    if names is not None and len(names) != n_features:
        names = None
    columns = [
        {
            "name": names[i] if names else None,
            "type": str(dtype),
            "nullable": missing[i],
            **_observed(X[:, i]),
        }
        for i in range(n_features)
    ]
    return {"n_features": n_features, "columns": columns}


def _observed(values: Any) -> dict[str, Any]:
    """The range of a numeric column, or the categories of a text column, as JSON values."""
    kind = getattr(getattr(values, "dtype", None), "kind", "O")
    if kind in "fiu":
        finite = values[values == values] if kind == "f" else values  # without NaN
        if kind == "f":
            finite = finite[(finite != float("inf")) & (finite != float("-inf"))]
        if len(finite) == 0:
            return {}
        as_json = float if kind == "f" else int
        return {"min": as_json(finite.min()), "max": as_json(finite.max())}
    if kind not in "OSU":
        return {}
    seen: set[str] = set()
    for value in values:
        if isinstance(value, str):
            seen.add(value)
            if len(seen) > MAX_CATEGORIES:
                return {}
        elif value is None or value != value:  # missing: None or NaN
            continue
        else:  # numbers or other objects: not a text column
            return {}
    return {"categories": sorted(seen)} if seen else {}


def model_metadata(model: Any) -> dict[str, Any]:
    """When and what was fitted: the timestamp, the class, its parameters, library versions."""
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "created": created,
        "train_timestamp": created,  # Palladium's name for the same moment
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "params": model_params(model),
        "versions": distribution_versions(),
    }


def data_metadata(X: Any, loader: Any, model: Any = None) -> dict[str, Any]:
    """What the model was trained on: ``feature_names`` and ``input_schema``, when known.

    The predict service checks its mapping against these when it first sees the model.
    """
    info: dict[str, Any] = {}
    names = feature_names(X, loader, model)
    if names is not None:
        info["feature_names"] = names
    schema = input_schema(X, names)
    if schema is not None:
        info["input_schema"] = schema
    return info


def training_metadata(model: Any, X: Any, loader: Any) -> dict[str, Any]:
    """Metadata recorded when a model is fitted: :func:`model_metadata` and the data's."""
    return {**model_metadata(model), **data_metadata(X, loader, model)}
