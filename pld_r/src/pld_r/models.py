"""R models as scikit-learn estimators: ``palladium.R.ClassificationModel`` and friends.

Every parameter is an explicit ``__init__`` argument (extra R training arguments go in the
``fit_kwargs`` dict), so ``get_params``, ``clone`` and grid search work. A fitted model
pickles through R's own ``serialize()``; where it is unpickled it is loaded into R at once
(R started, script sourced), so any persister can store it and another process can serve it
without a request paying for R's start.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from pld_r import session

_FIT_KWARGS_PREFIX = "fit_kwargs__"
_PER_PROCESS = ("rmodel_", "_input_form", "_predict_function_")  # rebuilt where unpickled
logger = logging.getLogger(__name__)


class RModel(BaseEstimator):
    """Shared by the R models: fit through an R function, predict through R's ``predict``.

    :param scriptname: the R script (a path, relative to the working directory).
    :param funcname: the R training function, called as ``funcname(x, y, ...)``; it returns
        the fitted R model.
    :param fit_kwargs: extra keyword arguments for ``funcname``; grid searches can address
        them as ``fit_kwargs__<name>``.
    :param predict_funcname: an R function ``f(model, x)`` of the same script used instead of
        R's generic ``predict``.
    """

    def __init__(
        self,
        scriptname: str,
        funcname: str,
        fit_kwargs: dict[str, Any] | None = None,
        predict_funcname: str | None = None,
    ):
        self.scriptname = scriptname
        self.funcname = funcname
        self.fit_kwargs = fit_kwargs
        self.predict_funcname = predict_funcname

    # -- scikit-learn parameters -------------------------------------------------------------

    def set_params(self, **params: Any) -> RModel:
        """Like scikit-learn's, plus ``fit_kwargs__<name>`` for one R training argument."""
        nested = {k: params.pop(k) for k in list(params) if k.startswith(_FIT_KWARGS_PREFIX)}
        if nested:
            fit_kwargs = dict(params.pop("fit_kwargs", self.fit_kwargs) or {})
            fit_kwargs.update({k[len(_FIT_KWARGS_PREFIX) :]: v for k, v in nested.items()})
            params["fit_kwargs"] = fit_kwargs
        super().set_params(**params)
        return self

    # -- R calls -----------------------------------------------------------------------------

    def _r_data(self, X: Any) -> Any:
        """X as R data; plain rows get the training column names back."""
        import numpy
        import pandas

        if isinstance(X, pandas.DataFrame):
            frame = X
        else:
            array = numpy.asarray(X)
            if array.ndim == 1:
                array = array.reshape(1, -1)
            columns = getattr(self, "columns_", None)
            if columns is None:
                return session.to_r(array)
            if array.dtype.kind in "fiu":  # request rows: numbers straight into a data.frame
                return session.numeric_frame(array, columns)
            frame = pandas.DataFrame(array, columns=columns)
        return session.to_r(frame)

    def _fit_r(self, X: Any, y: Any) -> None:
        import numpy
        import pandas

        rfunc = session.function(self.scriptname, self.funcname)
        self.columns_ = [str(c) for c in X.columns] if isinstance(X, pandas.DataFrame) else None
        with session.calling(self.scriptname, self.funcname):
            kwargs = {k: session.to_r(v) for k, v in (self.fit_kwargs or {}).items()}
            y_r = None if y is None else session.to_r(numpy.asarray(y))
            self.rmodel_ = rfunc(self._r_data(X), y_r, **kwargs)
        self._rmodel_bytes = None
        self.__dict__.pop("_input_form", None)
        self.warm_sample_ = warm_sample(X)

    def _predict_r(self, X: Any, **kwargs: Any) -> tuple[list[str] | None, Any]:
        """R's predictions for X as (column names, 2-d array), from ``predict_funcname`` or
        R's ``predict``, called once for all rows.

        Numeric rows go to R as a double matrix when the model answers a matrix exactly as it
        answers the data.frame it was trained on (tried once per loaded model, on its first
        predict), else as a numeric data.frame; other rows (factors, strings) as a data.frame
        through pandas.
        """
        rfunc, name = self._predict_function()
        rmodel = self._rmodel()
        numeric = self._numeric(X)
        with session.calling(self.scriptname, name):
            if numeric is None:
                return session.read_table(session.call(rfunc, rmodel, self._r_data(X), **kwargs))
            array, names = numeric
            form = self.__dict__.get("_input_form")
            if names is None or form == "matrix":  # trained on a matrix, or takes one
                data = session.numeric_matrix(array, names)
            elif form == "frame":
                data = session.numeric_frame(array, names)
            else:
                return self._choose_input_form(rfunc, rmodel, array, names, kwargs)
            return session.read_table(session.call(rfunc, rmodel, data, **kwargs))

    def _choose_input_form(
        self, rfunc: Any, rmodel: Any, array: Any, names: list[str], kwargs: dict[str, Any]
    ) -> tuple[list[str] | None, Any]:
        """Answer from the data.frame; keep the matrix form if R answers it the same."""
        import numpy

        frame = session.read_table(
            session.call(rfunc, rmodel, session.numeric_frame(array, names), **kwargs)
        )
        ok, matrix = session.attempt(
            lambda: session.read_table(
                session.call(rfunc, rmodel, session.numeric_matrix(array, names), **kwargs)
            )
        )
        same = (
            ok
            and matrix[0] == frame[0]
            and matrix[1].shape == frame[1].shape
            and numpy.array_equal(matrix[1], frame[1])
        )
        self.__dict__["_input_form"] = "matrix" if same else "frame"
        return frame

    def _numeric(self, X: Any) -> tuple[Any, list[str] | None] | None:
        """X as a 2-d numeric array and its column names (the training ones for plain rows),
        or ``None`` when a column is not numeric."""
        import numpy
        import pandas

        if isinstance(X, pandas.DataFrame):
            numeric = all(
                pandas.api.types.is_numeric_dtype(dtype)
                and not pandas.api.types.is_bool_dtype(dtype)
                and not isinstance(dtype, pandas.CategoricalDtype)
                for dtype in X.dtypes
            )
            return (X.to_numpy(dtype=float), [str(c) for c in X.columns]) if numeric else None
        array = numpy.asarray(X)
        if array.dtype.kind not in "fiu":
            return None
        if array.ndim == 1:
            array = array.reshape(1, -1)
        columns = getattr(self, "columns_", None)
        if columns is not None and array.shape[-1] != len(columns):
            raise session.RError(
                f"R model from {self.funcname}() of {self.scriptname} was trained on "
                f"{len(columns)} columns {columns}; the rows have {array.shape[-1]}"
            )
        return array, columns

    def _predict_function(self) -> tuple[Any, str]:
        """The R predict function and its name, looked up once per loaded model."""
        found = self.__dict__.get("_predict_function_")
        if found is None or found[2] != self.predict_funcname:  # set_params may change it
            self.__dict__.pop("_input_form", None)
            if self.predict_funcname:
                name = self.predict_funcname
                rfunc = session.function(self.scriptname, name)
            else:
                name = "predict"
                session.script(self.scriptname, name)  # its library() calls define the method
                rfunc = session.base(name)
            found = self.__dict__["_predict_function_"] = (rfunc, name, self.predict_funcname)
        return cast(tuple[Any, str], found[:2])

    def warm_up(self) -> None:
        """Pay the first predict's costs now: start R, source the script, unserialize the R
        model, and predict one typical row (``warm_sample_``), which picks the input form and
        runs R's method dispatch and any lazy loading of the model's package once."""
        self._rmodel()
        self._predict_function()
        sample = self.__dict__.get("warm_sample_")
        if sample is None:
            return
        try:
            self.predict(sample)
        except Exception as exc:  # the model loaded; a request will say what R thinks of it
            logger.warning(
                "R model from %s: the warm-up predict on a typical row failed (%s); "
                "the first request pays R's first-call costs",
                self.scriptname,
                exc,
            )

    def _rmodel(self) -> Any:
        rmodel = self.__dict__.get("rmodel_")
        if rmodel is None:
            data = self.__dict__.get("_rmodel_bytes")
            if data is None:
                from sklearn.exceptions import NotFittedError

                raise NotFittedError(f"this {type(self).__name__} is not fitted yet")
            rmodel = self.rmodel_ = session.unserialize(data)
        return rmodel

    # -- pickling ----------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # object's is the live __dict__
        rmodel = state.get("rmodel_")
        for name in _PER_PROCESS:
            state.pop(name, None)
        if rmodel is not None:
            state["_rmodel_bytes"] = session.serialize(rmodel)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickling loads the model into R at once (R started, script sourced), so a server
        that loads it before it serves (each gunicorn worker, or the master with
        ``preload_app``) pays none of that on a request. If R cannot do it here, the first
        predict tries again and reports why."""
        super().__setstate__(state)
        if state.get("_rmodel_bytes") is None:
            return
        try:
            self.warm_up()
        except Exception as exc:  # the same failure is raised, named, at the first predict
            logger.warning("R model from %s not loaded yet: %s", self.scriptname, exc)


def warm_sample(X: Any) -> Any:
    """One typical row of the training data ``X`` for the warm-up predict where the model is
    loaded: each numeric column's median, each categorical column's first level. No row of
    the data itself is stored; ``None`` when a column is neither (text, booleans)."""
    import numpy
    import pandas

    if not isinstance(X, pandas.DataFrame):
        array = numpy.asarray(X)
        if array.ndim != 2 or not len(array) or array.dtype.kind not in "fiu":
            return None
        array = array.astype(float)
        if numpy.isnan(array).all(axis=0).any():
            return None
        return numpy.nanmedian(array, axis=0, keepdims=True)
    if not len(X):
        return None
    columns: dict[str, Any] = {}
    for name, dtype in X.dtypes.items():
        column = X[name]
        if isinstance(dtype, pandas.CategoricalDtype) and len(dtype.categories):
            columns[str(name)] = pandas.Categorical(dtype.categories[:1], dtype=dtype)
        elif pandas.api.types.is_numeric_dtype(dtype) and not pandas.api.types.is_bool_dtype(dtype):
            median = float(column.median())
            if numpy.isnan(median):
                return None
            columns[str(name)] = [median]
        else:
            return None
    return pandas.DataFrame(columns, columns=[str(c) for c in X.columns])


class ClassificationModel(ClassifierMixin, RModel):
    """An R classifier; R's ``predict(model, x, type="prob")`` gives the probabilities.

    :param encode_labels: give R the targets as integer codes (0, 1, ...) instead of the
        labels themselves; predictions are mapped back to the labels either way.
    """

    def __init__(
        self,
        scriptname: str,
        funcname: str,
        encode_labels: bool = False,
        fit_kwargs: dict[str, Any] | None = None,
        predict_funcname: str | None = None,
    ):
        super().__init__(scriptname, funcname, fit_kwargs, predict_funcname)
        self.encode_labels = encode_labels

    def fit(self, X: Any, y: Any) -> ClassificationModel:
        """Fit the R model; R sees the labels, or their codes with ``encode_labels``."""
        import numpy

        y = numpy.asarray(y)
        self.classes_, codes = numpy.unique(y, return_inverse=True)
        self._fit_r(X, codes if self.encode_labels else y)
        return self

    def predict_proba(self, X: Any) -> Any:
        """One row per sample, one column per class of ``classes_``; rows sum to 1."""
        import numpy

        kwargs = {} if self.predict_funcname else {"type": "prob"}
        names, values = self._predict_r(X, **kwargs)
        if names is None:
            raise session.RError(
                f"R model from {self.funcname}() of {self.scriptname} returned probabilities "
                "without class names (column names)"
            )
        proba = numpy.asarray(values, dtype=float)
        columns = self._class_columns(names)
        out = numpy.zeros((proba.shape[0], len(self.classes_)))
        for source, target in enumerate(columns):
            out[:, target] = proba[:, source]
        return out

    def predict(self, X: Any) -> Any:
        """The most probable class of each sample, as the original labels."""
        proba = self.predict_proba(X)  # first: it says so when the model is not fitted
        return self.classes_[proba.argmax(axis=1)]

    def _class_columns(self, names: list[str]) -> list[int]:
        """Index in ``classes_`` of each column R returned, checked once per call."""
        if self.encode_labels:
            lookup = {str(i): i for i in range(len(self.classes_))}
        else:
            lookup = {str(label): i for i, label in enumerate(self.classes_)}
        missing = [name for name in names if name not in lookup]
        if missing:
            raise session.RError(
                f"R model from {self.funcname}() of {self.scriptname} returned probabilities "
                f"for unknown classes {missing}; known: {list(lookup)}"
            )
        return [lookup[name] for name in names]


class RegressionModel(RegressorMixin, RModel):
    """An R regressor; ``score`` is R² as ``r2_score(y_true, y_pred)``."""

    def fit(self, X: Any, y: Any) -> RegressionModel:
        """Fit the R model to numeric targets."""
        import numpy

        self._fit_r(X, numpy.asarray(y, dtype=float))
        return self

    def predict(self, X: Any) -> Any:
        """One number per sample."""
        import numpy

        _, values = self._predict_r(X)
        return numpy.asarray(values, dtype=float).reshape(-1)
