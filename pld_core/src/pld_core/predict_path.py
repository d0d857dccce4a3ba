"""The one predict path: records → model input → ``pld_predict`` → predictions → answer.

HTTP GET and POST, ``pld stream`` and ``pld predict`` all predict through a
:class:`PredictPath`, so the same bad record gets the same message everywhere and a
``pld_predict`` hook wrapper sees every prediction. What varies per service — turning records
into the model's input — is the :class:`~pld_core.PredictService`'s ``model_input``.
Everything that can be decided once (the model call, the metadata) is decided here at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import pluggy
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from pld_core import hook_defaults
from pld_core.config import Config
from pld_core.encoding import as_list, decode, encode
from pld_core.envelope import JSON_MIMETYPE, describe_error, error_response
from pld_core.errors import InputError, LimitError, NoModelError, PredictError
from pld_core.input_check import InputCheck, InputPolicy, build_input_check, finiteness_trusting
from pld_core.interfaces import PredictService
from pld_core.model_source import ModelSource

ModelCall = Callable[..., Any]
Trusting = Callable[[], AbstractContextManager[Any]] | None
_NO_QUERY: Mapping[str, Any] = {}


def model_caller(plugins: pluggy.PluginManager | None) -> ModelCall:
    """The ``pld_predict`` hook, or the model itself when only pld's plain default answers.

    The hook machinery would cost every request and change nothing then.
    """
    if plugins is None:
        return hook_defaults.pld_predict
    hook = plugins.hook.pld_predict
    if all(impl.plugin_name == hook_defaults.PLUGIN_NAME for impl in hook.get_hookimpls()):
        return hook_defaults.pld_predict
    return hook


def out_of_range_reporter(plugins: pluggy.PluginManager | None) -> Callable[..., Any] | None:
    """The ``pld_input_out_of_range`` hook, or ``None`` when no plugin listens."""
    if plugins is None:
        return None
    hook = plugins.hook.pld_input_out_of_range
    return hook if hook.get_hookimpls() else None


class PredictPath:
    """A predict service and where its model comes from: everything a prediction needs.

    :param service: turns records into model input.
    :param get_model: returns the model to predict with, or ``None`` (a ``ModelSource.get``).
    :param plugins: the plugin manager whose ``pld_predict`` hook runs the model.
    :param service_metadata: merged into every answer's ``metadata`` (unless the service has
        its own ``service_metadata``).
    :param input_policy: how the model input is checked against the version's input schema
        (the config's ``input_checks``).
    """

    def __init__(
        self,
        service: PredictService,
        get_model: Callable[[], Any],
        plugins: pluggy.PluginManager | None = None,
        service_metadata: Mapping[str, Any] | None = None,
        input_policy: InputPolicy | None = None,
    ):
        self.service = service
        self.get_model = get_model
        self.call_model = model_caller(plugins)
        own = getattr(service, "service_metadata", None)  # a service's own metadata wins
        self.metadata = dict(own or service_metadata or {})
        self._ok = {"status": "OK", "error_code": 0, **self.metadata}
        self.input_policy = input_policy or InputPolicy()
        self.report_out_of_range = out_of_range_reporter(plugins)
        # (model, what is wrong with it, the check of its input, what makes the model trust a
        # checked input): decided once per model
        self._checked: tuple[Any, str | None, InputCheck | None, Trusting] = (
            None,
            None,
            None,
            None,
        )
        #: The most samples one HTTP request may send (the config's ``limits.max_rows``).
        self.max_rows: int | None = None

    def model(self) -> Any:
        """The model to predict with; refuses one the service cannot feed correctly."""
        return self._model_and_check()[0]

    def input_check(self) -> InputCheck | None:
        """The check of the current model's input (``None``: no schema stored, or turned off)."""
        return self._model_and_check()[1]

    def _model_and_check(self) -> tuple[Any, InputCheck | None, Trusting]:
        model = self.get_model()
        if model is None:
            raise NoModelError("no model is available to predict with")
        checked, problem, check, trusting = self._checked
        if model is not checked:  # once per model: a reload brings a new object
            problem = self.service.check_model(model)
            check = build_input_check(model, self.input_policy)
            complete = check is not None and check.complete
            trusting = finiteness_trusting(model) if complete else None
            self._checked = (model, problem, check, trusting)
        if problem is not None:
            raise PredictError(problem)
        return model, check, trusting

    def predictions(self, records: Any, query: Mapping[str, Any] = _NO_QUERY) -> Any:
        """What the model answers for ``records`` (a non-empty list of sample objects).

        :raises InputError: a record the service cannot read, or a value the version's input
            schema refuses, naming the sample and the field.
        """
        model, check, trusting = self._model_and_check()
        if not isinstance(records, list) or not records:
            raise InputError("the body must be a non-empty JSON list of objects")
        X, params = self.service.model_input(model, records, query)
        return self._run(model, check, trusting, X, params)

    def table_predictions(self, table: Any, query: Mapping[str, Any] = _NO_QUERY) -> Any:
        """What the model answers for ``table``, a columnar batch of samples (an Arrow table).

        The service's ``table_input`` builds the model input from whole columns; a service
        without one, or a batch it leaves to the records way, goes through :meth:`predictions`
        with ``table.to_pylist()``. The input check and the ``pld_predict`` hook run alike.
        """
        model, check, trusting = self._model_and_check()
        inputs = self.service.table_input(model, table, query) if table.num_rows else None
        if inputs is None:
            return self.predictions(table.to_pylist(), query)
        return self._run(model, check, trusting, *inputs)

    def _run(
        self,
        model: Any,
        check: InputCheck | None,
        trusting: Trusting,
        X: Any,
        params: dict[str, Any],
    ) -> Any:
        """Check the model input ``X`` against the version's schema, then call the model."""
        if check is None:
            return self.call_model(model=model, X=X, method=self.service.method, params=params)
        outside = check(X)
        if outside and self.report_out_of_range is not None:
            self.report_out_of_range(
                entry_point=getattr(self.service, "entry_point", None),
                version=check.version,
                counts=outside,
            )
        if trusting is None or getattr(getattr(X, "dtype", None), "kind", "") != "f":
            return self.call_model(model=model, X=X, method=self.service.method, params=params)
        with trusting():  # pld has checked every value: the estimator need not
            return self.call_model(model=model, X=X, method=self.service.method, params=params)

    def predict(self, records: Any, query: Mapping[str, Any] = _NO_QUERY) -> list[Any]:
        """The predictions for ``records`` as a plain list, one per record."""
        return as_list(self.predictions(records, query))

    def answer(self, request: Request) -> Response:
        """Answer an HTTP request: one sample in the query (GET) or a JSON list (POST)."""
        try:
            if request.method in ("GET", "HEAD"):
                single, records = True, [request.args]
            else:
                single, records = False, _json_body(request)
                too_many = self.max_rows is not None and isinstance(records, list)
                if too_many and len(records) > self.max_rows:  # type: ignore[operator]
                    raise LimitError(
                        f"{len(records)} samples in one request; at most {self.max_rows}"
                    )
            result = self.service.result(self.predict(records, request.args), single)
            return Response(
                encode({"result": result, "metadata": self._ok}), mimetype=JSON_MIMETYPE
            )
        except Exception as exc:
            return self.error(exc)

    def error(self, exc: BaseException) -> Response:
        """The error answer for ``exc``, in the envelope with this service's metadata."""
        status, code, message = describe_error(exc)
        return error_response(status, message, code, self.metadata)


def _json_body(request: Request) -> Any:
    if request.mimetype != JSON_MIMETYPE:
        raise InputError(f"the body must be application/json, not {request.mimetype or 'empty'}")
    try:
        data = request.get_data()
    except HTTPException:  # over the size limit: 413
        raise
    except Exception as exc:  # the WSGI server could not read it: a malformed chunked body
        raise InputError(f"the body could not be read: {type(exc).__name__}: {exc}") from None
    return parse_json(data, "the body")


def parse_json(data: bytes | str, what: str = "the line") -> Any:
    """``data`` parsed as JSON; :class:`InputError` naming ``what`` when it is not JSON."""
    try:
        return decode(data)
    except ValueError as exc:
        raise InputError(f"{what} is not valid JSON: {exc}") from None


def make_predict_path(
    config: Config, service_key: str = "predict_service", models: ModelSource | None = None
) -> PredictPath:
    """The predict path of the config's service ``service_key``, with its hooks and metadata.

    :param models: where the model comes from; default: the config's active model.
    """
    service = config[service_key]
    if not isinstance(service, PredictService):
        raise config.error(
            f"is a {type(service).__name__}, not a predict service (pld_core.PredictService)",
            service_key,
        )
    source = models if models is not None else ModelSource(config)
    policy = InputPolicy.from_config(config)
    return PredictPath(service, source.get, config.plugins, config.get("service_metadata"), policy)
