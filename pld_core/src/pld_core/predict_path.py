"""The one predict path: records → model input → ``pld_predict`` → predictions → answer.

HTTP GET and POST, ``pld stream`` and ``pld predict`` all predict through a
:class:`PredictPath`, so the same bad record gets the same message everywhere and a
``pld_predict`` hook wrapper sees every prediction. What varies per service — turning records
into the model's input — is the :class:`~pld_core.PredictService`'s ``model_input``.
Everything that can be decided once (the model call, the metadata) is decided here at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from pld_core import hook_defaults
from pld_core.config import Config
from pld_core.encoding import as_list, decode, encode
from pld_core.envelope import JSON_MIMETYPE, describe_error, error_response
from pld_core.errors import InputError, LimitError, NoModelError, PredictError
from pld_core.interfaces import PredictService
from pld_core.model_source import ModelSource

ModelCall = Callable[..., Any]
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


class PredictPath:
    """A predict service and where its model comes from: everything a prediction needs.

    :param service: turns records into model input.
    :param get_model: returns the model to predict with, or ``None`` (a ``ModelSource.get``).
    :param plugins: the plugin manager whose ``pld_predict`` hook runs the model.
    :param service_metadata: merged into every answer's ``metadata`` (unless the service has
        its own ``service_metadata``).
    """

    def __init__(
        self,
        service: PredictService,
        get_model: Callable[[], Any],
        plugins: pluggy.PluginManager | None = None,
        service_metadata: Mapping[str, Any] | None = None,
    ):
        self.service = service
        self.get_model = get_model
        self.call_model = model_caller(plugins)
        own = getattr(service, "service_metadata", None)  # a service's own metadata wins
        self.metadata = dict(own or service_metadata or {})
        self._ok = {"status": "OK", "error_code": 0, **self.metadata}
        self._checked: tuple[Any, str | None] = (None, None)  # (model, what is wrong with it)
        #: The most samples one HTTP request may send (the config's ``limits.max_rows``).
        self.max_rows: int | None = None

    def model(self) -> Any:
        """The model to predict with; refuses one the service cannot feed correctly."""
        model = self.get_model()
        if model is None:
            raise NoModelError("no model is available to predict with")
        checked, problem = self._checked
        if model is not checked:  # once per model: a reload brings a new object
            problem = self.service.check_model(model)
            self._checked = (model, problem)
        if problem is not None:
            raise PredictError(problem)
        return model

    def predictions(self, records: Any, query: Mapping[str, Any] = _NO_QUERY) -> Any:
        """What the model answers for ``records`` (a non-empty list of sample objects)."""
        model = self.model()
        if not isinstance(records, list) or not records:
            raise InputError("the body must be a non-empty JSON list of objects")
        X, params = self.service.model_input(model, records, query)
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
    return PredictPath(service, source.get, config.plugins, config.get("service_metadata"))
