"""The server shell on raw Werkzeug: routing, decorator lists, and JSON answers for everything.

:func:`create_app` does all the work that can be done once — the model source, one
:class:`PredictPath` per predict service, the routes plugins register, the config's
``url-rule`` entries, every view wrapped in its decorator list — so a request only routes,
predicts and serialises. Views receive ``(request, app)``: the :class:`App` is their handle on
the config, the model and the answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from pld_core.config import Config
from pld_core.decorators import decorate
from pld_core.envelope import describe_error, error_response, json_response
from pld_core.errors import ConfigError
from pld_core.flask_context import flask_context
from pld_core.interfaces import PredictService
from pld_core.model_source import ModelSource
from pld_core.plugins import get_plugin_manager
from pld_core.predict_path import PredictPath, make_predict_path
from pld_core.registry import Route, collect_routes, collect_tasks, collect_views
from pld_core.registry import View as NamedView
from pld_core.tasks import Task

View = Callable[[Request], Response]


@dataclass(frozen=True)
class Endpoint:
    """What answers one path, for ``/openapi.json`` and error messages.

    :ivar owner: who added it: ``the predict service 'predict_service'``, ``plugin 'x'``...
    :ivar operations: OpenAPI operations its owner gave (a predict service, a route), if any.
    :ivar errors: the error statuses it answers besides 400 and 500 (503: no model yet).
    """

    path: str
    methods: tuple[str, ...]
    owner: str
    summary: str = ""
    operations: dict[str, Any] | None = None
    errors: tuple[int, ...] = ()


@dataclass(frozen=True)
class Limits:
    """What one request may bring: the config's ``limits`` entry, checked before parsing.

    :ivar max_body_bytes: the largest body read (413 above; a chunked body is cut off there).
    :ivar max_rows: the most samples one predict request may send (413 above).
    """

    max_body_bytes: int = 10 * 2**20
    max_rows: int = 100_000

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        given = config.get("limits") or {}
        known = {field.name for field in fields(cls)}
        if not isinstance(given, dict) or set(given) - known:
            raise config.error(f"must be a dict with some of the keys {sorted(known)}", "limits")
        for name, value in given.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise config.error(
                    f"must be a positive whole number, not {value!r}", f"limits.{name}"
                )
        return cls(**given)


class App:
    """The WSGI application serving one configuration; what every view receives as ``app``.

    :ivar config: the loaded configuration.
    :ivar service_metadata: the config's ``service_metadata``, part of every answer.
    :ivar models: the :class:`~pld_core.ModelSource` of ``model_persister``: ``models.get()``
        is the served model, ``models.reload()`` loads the active version again. It belongs to
        this app: two apps in one process serve their own models.
    :ivar predict_paths: config key → :class:`~pld_core.PredictPath` of each predict service.
    :ivar tasks: the tasks plugins registered, by name.
    :ivar named_views: the views a config's ``url-rule`` can mount, by name.
    :ivar endpoints: path → :class:`Endpoint`, in the order they were added.
    :ivar state: anything a plugin keeps per app (built once, e.g. a document).
    :ivar limits: what one request may bring (:class:`Limits`).
    """

    def __init__(self, config: Config):
        self.config = config
        plugins = config.plugins if config.plugins is not None else get_plugin_manager()
        self.service_metadata: dict[str, Any] = dict(config.get("service_metadata") or {})
        self.url_map = Map(strict_slashes=False)
        self.views: dict[str, View] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.state: dict[str, Any] = {}
        self.limits = Limits.from_config(config)
        self.tasks: dict[str, Task] = collect_tasks(plugins)
        self.named_views: dict[str, NamedView] = collect_views(plugins, self.tasks)
        services = {
            key: service
            for key, service in config.items()
            if isinstance(service, PredictService) and isinstance(service.entry_point, str)
        }
        routes = collect_routes(plugins, self)
        _check_paths(config, services, routes)  # before the model loads
        self.models = ModelSource(config)
        self.predict_paths: dict[str, PredictPath] = {}
        for key, service in services.items():
            self._add_predict_service(key, service)
        for route in routes:
            info = Endpoint(route.path, route.methods, route.owner, route.summary, route.openapi)
            self.add(info, _bind(route.view, self), route.decorators)
        # Decided once the decorators and views are imported: did the user's code import flask?
        self.flask = flask_context()

    # -- building ----------------------------------------------------------------------------

    def add(self, endpoint: Endpoint, view: View, decorators: str | None = None) -> None:
        """Answer ``endpoint`` with ``view(request)``, wrapped in the decorator list named."""
        taken = self.endpoints.get(endpoint.path)
        if taken is not None:
            raise ConfigError(
                f"two endpoints want the path {endpoint.path!r}: {taken.owner} and {endpoint.owner}"
            )
        self.endpoints[endpoint.path] = endpoint
        name = f"{len(self.endpoints)}:{endpoint.path}"
        self.url_map.add(Rule(endpoint.path, endpoint=name, methods=list(endpoint.methods)))
        self.views[name] = decorate(view, self.config, decorators) if decorators else view

    def _add_predict_service(self, key: str, service: PredictService) -> None:
        path = make_predict_path(self.config, key, self.models)
        path.max_rows = self.limits.max_rows
        self.predict_paths[key] = path
        info = Endpoint(
            service.entry_point,
            ("GET", "POST"),
            f"the predict service {key!r}",
            f"Predict with the service {key!r}",
            service.openapi_operations(),
            errors=(503,),
        )
        self.add(info, path.answer, service.decorator_list_name or "predict_decorators")

    # -- WSGI --------------------------------------------------------------------------------

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        flask = self.flask
        limit = self.limits.max_body_bytes
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked:  # no length to check up front: refuse the body once it passes the limit
            environ["wsgi.input"] = _CappedBody(environ["wsgi.input"], limit)
        request = flask.request_class(environ) if flask is not None else Request(environ)
        # Werkzeug would stop a chunked body at the limit and take the rest for the body
        request.max_content_length = None if chunked else limit
        request.max_form_memory_size = limit
        adapter = self.url_map.bind_to_environ(environ)
        try:
            size = request.content_length
            if size is not None and size > self.limits.max_body_bytes:  # refused unread
                raise RequestEntityTooLarge(
                    f"the body has {size} bytes; at most {self.limits.max_body_bytes} are read"
                )
            endpoint, _args = adapter.match()
            if flask is None:
                response = self.views[endpoint](request)
            else:  # Palladium's decorators and views read flask.request
                with flask.context(request):
                    response = self.views[endpoint](request)
        except Exception as exc:  # the one mapping of exceptions to answers
            status, code, message = describe_error(exc, f"{request.method} {request.path}")
            response = self.error(status, message, code)
            allowed = getattr(exc, "valid_methods", None)  # 405 must say what is allowed
            if allowed:
                response.headers["Allow"] = ", ".join(sorted(allowed))
            if isinstance(exc, RequestRedirect):  # /alive// → /alive: say where to
                response.headers["Location"] = exc.new_url
        return response(environ, start_response)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.wsgi_app(environ, start_response)

    # -- answers -----------------------------------------------------------------------------

    def json(self, body: Any, status: int = 200) -> Response:
        """``body`` as a JSON answer."""
        return json_response(body, status)

    def error(self, status: int, message: str, code: int = -1) -> Response:
        """Palladium's error envelope with this service's metadata and HTTP ``status``."""
        return error_response(status, message, code, self.service_metadata)


def _check_paths(config: Config, services: dict[str, PredictService], routes: list[Route]) -> None:
    """A predict service's ``entry_point`` that another endpoint has is a config error naming
    both, raised before any model is read."""
    owners = {route.path: route.owner for route in routes}
    for key, service in services.items():
        path = str(service.entry_point)
        taken = owners.get(path)
        if taken is not None:
            raise config.error(
                f"two endpoints want the path {path!r}: {taken} and the predict service "
                f"{key!r}; give the service another entry_point",
                key,
            )
        owners[path] = f"the predict service {key!r}"


class _CappedBody:
    """A chunked body's stream that raises 413 once more than ``limit`` bytes arrive.

    Reads one byte past the limit to tell a body of exactly ``limit`` bytes from a longer one.
    """

    def __init__(self, stream: Any, limit: int):
        self._stream = stream
        self._limit = limit
        self._left = limit + 1  # the byte that proves the body too long

    def read(self, size: int | None = -1) -> bytes:
        wanted = self._allowed(size)
        readinto = getattr(self._stream, "readinto", None)
        if readinto is None:
            return self._counted(self._stream.read(wanted))
        # Werkzeug's dev server dechunks in readinto and miscounts a chunk cut short; a view
        # of a buffer of our own turns that into an error instead of a crash in read().
        buffer = bytearray(wanted)
        try:
            got = readinto(memoryview(buffer))
        except ValueError as exc:
            raise OSError(f"the chunked body is malformed: {exc}") from None
        if got is None or not 0 <= got <= wanted:
            raise OSError("the chunked body is malformed")
        return self._counted(bytes(buffer[:got]))

    def readline(self, size: int | None = -1) -> bytes:
        return self._counted(self._stream.readline(self._allowed(size)))

    def _allowed(self, size: int | None) -> int:
        return self._left if size is None or size < 0 else min(size, self._left)

    def _counted(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left <= 0:
            raise RequestEntityTooLarge(
                f"the chunked body is longer than {self._limit} bytes; at most that many are read"
            )
        return data


def _bind(view: Callable[..., Any], app: App) -> View:
    def bound(request: Request) -> Response:
        return view(request, app)  # type: ignore[no-any-return]

    return bound


def create_app(config: Config) -> App:
    """The WSGI application for ``config`` (load it without ``__mode__``: serving mode)."""
    return App(config)
