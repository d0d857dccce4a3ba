"""``palladium.R.DatasetLoader``: an R function that returns ``list(X, y)`` feeds pld."""

from __future__ import annotations

from typing import Any

from pld_core import DatasetLoader as DatasetLoaderInterface
from pld_r import session


def to_python_data(value: Any) -> Any:
    """An R data.frame, matrix or vector as pandas / numpy; factors become their labels."""
    import numpy
    import pandas

    converted = session.to_py(value)
    if isinstance(converted, pandas.DataFrame):
        converted.columns = [str(name) for name in converted.columns]
        return converted
    if isinstance(converted, pandas.Categorical):
        return numpy.asarray(converted.astype(object))
    if value is session.r().NULL:
        return None
    return numpy.asarray(converted)


class DatasetLoader(DatasetLoaderInterface):
    """Call the R function ``funcname`` of ``scriptname`` with the config's extra keywords.

    The function returns ``list(X, y)`` (``y`` may be ``NULL``). A data.frame X comes back as
    a pandas DataFrame (its names become the stored feature names), anything else as numpy.
    The script is sourced on first load, not when the config is read.
    """

    def __init__(self, scriptname: str, funcname: str, **kwargs: Any):
        self.scriptname = scriptname
        self.funcname = funcname
        self.kwargs = kwargs
        self.feature_names_: list[str] | None = None

    def __call__(self) -> tuple[Any, Any]:
        rfunc = session.function(self.scriptname, self.funcname)
        with session.calling(self.scriptname, self.funcname):
            args = {name: session.to_r(value) for name, value in self.kwargs.items()}
            result = rfunc(**args)
            if len(result) != 2:
                raise session.RError(
                    f"{self.funcname}() of {self.scriptname} must return list(X, y), "
                    f"not an object of length {len(result)}"
                )
            X, y = to_python_data(result[0]), to_python_data(result[1])
        if hasattr(X, "columns"):
            self.feature_names_ = list(X.columns)
        return X, y
