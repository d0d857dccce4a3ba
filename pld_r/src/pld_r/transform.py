"""``palladium.R.Rpy2Transform``: plain request rows back into the data.frame R trained on.

A service receives numbers and strings. An R model trained on a data.frame with factor
columns needs the same columns and the same factor levels, or R refuses (or silently
mis-codes) the input. This transformer remembers both at fit time and restores them.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin


class Rpy2Transform(TransformerMixin, BaseEstimator):
    """Rows → a pandas DataFrame with the training columns and categorical levels.

    Categorical columns at fit time (R factors from an R loader, or pandas categories) keep
    their categories; the other columns are made numeric when they were numeric. The R
    models convert the result to an R data.frame with factors.
    """

    def fit(self, X: Any, y: Any = None) -> Rpy2Transform:
        """Remember the column names, the numeric columns and each factor's levels."""
        import pandas

        frame = X if isinstance(X, pandas.DataFrame) else pandas.DataFrame(X)
        self.columns_ = [str(c) for c in frame.columns]
        self.levels_: dict[str, list[Any]] = {}
        self.numeric_: list[str] = []
        for name, column in zip(self.columns_, frame.columns, strict=True):
            series = frame[column]
            if isinstance(series.dtype, pandas.CategoricalDtype):
                self.levels_[name] = list(series.cat.categories)
            elif pandas.api.types.is_numeric_dtype(series.dtype):
                self.numeric_.append(name)
        return self

    def transform(self, X: Any) -> Any:
        """A DataFrame with the fitted columns, dtypes and factor levels."""
        import numpy
        import pandas

        if isinstance(X, pandas.DataFrame):
            frame = X.copy()
            frame.columns = [str(c) for c in frame.columns]
        else:
            array = numpy.asarray(X, dtype=object)
            if array.ndim == 1:
                array = array.reshape(1, -1)
            if array.shape[1] != len(self.columns_):
                raise ValueError(
                    f"expected {len(self.columns_)} columns {self.columns_}, got {array.shape[1]}"
                )
            frame = pandas.DataFrame(array, columns=self.columns_)
        for name in self.numeric_:
            frame[name] = pandas.to_numeric(frame[name])
        for name, levels in self.levels_.items():
            values = frame[name].astype(object)
            unknown = set(values.dropna()) - set(levels)
            if unknown:
                raise ValueError(f"column {name!r}: unknown levels {sorted(map(str, unknown))}")
            frame[name] = pandas.Categorical(values, categories=levels)
        return frame[self.columns_]
