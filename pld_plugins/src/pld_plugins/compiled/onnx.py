"""The ONNX runtime: convert with skl2onnx, verify, and serve with onnxruntime.

Conversion asks for double precision throughout (a ``DoubleTensorType`` input, no ZipMap on
classifiers), so a linear model's answers can agree with scikit-learn's to a few ulps;
whatever does not agree within ``rtol`` on the verification rows is not served.

:class:`OnnxModel` stands in for the model at serve time: one ``InferenceSession`` built when
the model is loaded, one ``session.run`` per prediction. Whatever it was not verified for —
keyword parameters, a method without a compiled output, input that is not a finite table of
numbers — the Python model answers, so answers and error messages stay the model's own.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy

from pld_plugins.compiled import DESCRIBED
from pld_plugins.compiled.settings import Settings
from pld_plugins.compiled.verify import compare

logger = logging.getLogger(__name__)

RUNTIME = "onnx"
#: The compiled model's input name.
INPUT = "X"
_FLOAT = numpy.dtype(numpy.float64)


class CompileError(Exception):
    """The model has no verified compiled form; the message says why."""


def compile_model(
    model: Any, X: Any, features: Any, settings: Settings
) -> tuple[dict[str, Any], bytes]:
    """Convert ``model`` to ONNX and check it against the model on the rows ``X``.

    :param X: the verification rows as the model takes them (array or DataFrame).
    :param features: the same rows as a float64 array.
    :return: the ``compiled`` metadata record and the ONNX bytes.
    :raises CompileError: it cannot be converted, loaded, or does not answer as the model does.
    """
    try:
        import onnxruntime
        import skl2onnx
    except ImportError as exc:
        raise CompileError(
            f"{exc.name} is not installed (pip install 'pld-plugins[onnx]')"
        ) from None
    try:
        expected = {method: numpy.asarray(getattr(model, method)(X)) for method in _methods(model)}
    except Exception as exc:
        raise CompileError(
            f"the model cannot predict the verification rows: {_brief(exc)}"
        ) from None
    try:
        data = _convert(model, features.shape[1])
    except Exception as exc:
        raise CompileError(f"skl2onnx cannot convert it: {_brief(exc)}") from None
    try:
        session = make_session(data, settings.threads)
    except Exception as exc:
        raise CompileError(f"onnxruntime cannot load it: {_brief(exc)}") from None
    names = [output.name for output in session.get_outputs()]
    outputs = {  # classifiers answer (label, probabilities), regressors (variable)
        method: {"output": name, "dtype": answer.dtype.str, "ndim": answer.ndim}
        for (method, answer), name in zip(expected.items(), names, strict=False)
    }
    served = OnnxModel(model, session, outputs)
    worst = 0.0
    for method in outputs:
        answer = expected[method]
        try:
            got = served.run(method, features)
        except Exception as exc:
            raise CompileError(f"onnxruntime cannot run {method}: {_brief(exc)}") from None
        exact = method == "predict" and _is_classifier(model)
        verdict = compare(method, answer, got, settings.rtol, exact)
        if verdict.problem is not None:
            raise CompileError(verdict.problem)
        worst = max(worst, verdict.max_rel_diff)
    record = {
        "runtime": RUNTIME,
        "verified": True,
        "max_rel_diff": worst,
        "outputs": outputs,
        **_described(model),
        "versions": {"skl2onnx": skl2onnx.__version__, "onnxruntime": onnxruntime.__version__},
    }
    return record, data


def make_session(data: bytes, threads: int = 1) -> Any:
    """An onnxruntime session of the ONNX bytes ``data`` on the CPU, ``threads`` threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: no warnings on stderr per load
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


class OnnxModel:
    """Predicts with an onnxruntime session in place of ``model``; anything else is the
    model's (its attributes, its ``__metadata__``).

    :param model: the Python model the ONNX form was verified against.
    :param session: the onnxruntime session of its ONNX form.
    :param outputs: per method, the session output that answers it and the ``dtype`` and
        ``ndim`` of the model's own answer (the ``compiled`` metadata's ``outputs``).
    """

    #: What ``/alive`` reports as serving.
    served_by = RUNTIME

    def __init__(
        self,
        model: Any,
        session: Any,
        outputs: dict[str, Any],
        described: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.session = session
        self._input = session.get_inputs()[0].name
        self._plans = {
            method: ([str(spec["output"])], numpy.dtype(spec["dtype"]), int(spec["ndim"]))
            for method, spec in outputs.items()
        }
        if described is not None and DESCRIBED.issubset(described):
            columns = described["columns"]
            classes = described["classes"]
            if classes is not None:  # text as scikit-learn keeps it: objects
                text = any(isinstance(label, str) for label in classes)
                self.classes_ = numpy.asarray(classes, dtype=object if text else None)
        else:  # ask the model (a record from before pld recorded them)
            columns = getattr(model, "feature_names_in_", None)
        self._columns = [str(name) for name in columns] if columns is not None else None

    @classmethod
    def load(
        cls,
        model: Any,
        data: bytes,
        outputs: dict[str, Any],
        threads: int,
        described: dict[str, Any] | None = None,
    ) -> OnnxModel:
        """The served form of ``model`` from its verified ONNX bytes.

        :param described: the ``compiled`` record, whose ``columns`` and ``classes`` spare
            asking the model (which unpickles a :class:`~pld_core.DeferredModel`).
        """
        return cls(model, make_session(data, threads), outputs, described)

    @property
    def __metadata__(self) -> Any:
        return self.model.__metadata__

    @__metadata__.setter
    def __metadata__(self, value: Any) -> None:
        self.model.__metadata__ = value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def __repr__(self) -> str:
        return f"OnnxModel({self.model!r})"

    def predict(self, X: Any, **params: Any) -> Any:
        """The model's ``predict``, from the ONNX form."""
        return self._answer("predict", X, params)

    def predict_proba(self, X: Any, **params: Any) -> Any:
        """The model's ``predict_proba``, from the ONNX form when it was verified for it."""
        return self._answer("predict_proba", X, params)

    def _answer(self, method: str, X: Any, params: dict[str, Any]) -> Any:
        features = None if params or method not in self._plans else self._features(X)
        if features is None:
            return getattr(self.model, method)(X, **params)
        try:
            return self.run(method, features)
        except Exception:  # the model's own answer, or its own error message
            logger.debug("onnxruntime failed; the Python model answers", exc_info=True)
            return getattr(self.model, method)(X, **params)

    def _features(self, X: Any) -> Any:
        """``X`` as the session's float64 table, or ``None`` when the model must answer."""
        if type(X) is not numpy.ndarray or X.dtype != _FLOAT:
            columns = getattr(X, "columns", None)
            if columns is not None and self._columns not in (None, [str(c) for c in columns]):
                return None  # other columns than trained: the model says what is wrong
            try:
                X = numpy.asarray(X, dtype=_FLOAT)
            except (TypeError, ValueError):
                return None
        if X.ndim != 2 or not numpy.isfinite(X).all():
            return None
        return X

    def run(self, method: str, features: Any) -> Any:
        """The session's answer for ``method``, shaped and typed as the model's."""
        names, dtype, ndim = self._plans[method]
        answer = self.session.run(names, {self._input: features})[0]
        if answer.ndim != ndim:
            answer = answer.reshape(len(answer)) if ndim == 1 else answer.reshape(len(answer), -1)
        return answer if answer.dtype == dtype else answer.astype(dtype)


def _convert(model: Any, n_features: int) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    options = {id(model): {"zipmap": False}} if _is_classifier(model) else None
    with warnings.catch_warnings():  # the verification judges the result, not the warnings
        warnings.simplefilter("ignore")
        onnx_model = convert_sklearn(
            model, initial_types=[(INPUT, DoubleTensorType([None, n_features]))], options=options
        )
    data: bytes = onnx_model.SerializeToString()
    return data


def _described(model: Any) -> dict[str, Any]:
    """The model's trained column names and a classifier's classes, as JSON values."""
    columns = getattr(model, "feature_names_in_", None)
    classes = getattr(model, "classes_", None) if _is_classifier(model) else None
    return {
        "columns": [str(name) for name in columns] if columns is not None else None,
        "classes": numpy.asarray(classes).tolist() if classes is not None else None,
    }


def _methods(model: Any) -> list[str]:
    """The methods the compiled form answers: ``predict``, and a classifier's ``predict_proba``."""
    if _is_classifier(model) and callable(getattr(model, "predict_proba", None)):
        return ["predict", "predict_proba"]
    return ["predict"]


def _is_classifier(model: Any) -> bool:
    from sklearn.base import is_classifier

    return bool(is_classifier(model))


def _brief(exc: BaseException) -> str:
    """The exception's type and the first line of its message, at most 300 characters."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
