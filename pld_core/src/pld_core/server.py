"""The WSGI application on raw Werkzeug: routing, views, and JSON answers for everything.

``create_app(config)`` does all the work that can be done once — routes, decorated views,
the model source, metadata templates — so a request only routes, predicts and serialises.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import psutil
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from pld_core import admin, openapi
from pld_core.config import Config
from pld_core.decorators import decorate
from pld_core.errors import ConfigError
from pld_core.jobs import run_job
from pld_core.model_source import ModelSource
from pld_core.routes import collect_routes
from pld_core.store import process_store
from pld_core.tasks import OptionError, Task, collect_tasks, task_names
from pld_core.url_rules import UrlRule

logger = logging.getLogger(__name__)

View = Callable[[Request], Response]
JSON_MIMETYPE = "application/json"
OPENAPI_PATH = "/openapi.json"


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON answer; non-JSON values (numpy scalars, datetimes) are turned into strings."""
    return Response(json.dumps(body, default=_to_json), status=status, mimetype=JSON_MIMETYPE)


def _to_json(value: Any) -> Any:
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return str(value)


class PldApp:
    """A WSGI application serving one configuration."""

    def __init__(self, config: Config):
        self.config = config
        self.service_metadata = dict(config.get("service_metadata") or {})
        self.url_map = Map(strict_slashes=False)
        self.views: dict[str, View] = {}
        self.models = ModelSource(config)
        self._process = psutil.Process()
        self.api_paths: dict[str, dict[str, Any]] = {}  # OpenAPI operations by path
        self._tasks: dict[str, Task] | None = None  # collected when a url-rule names a task
        self._add_predict_services()
        self._add("/alive", "alive", self.alive, ("GET",), "alive_decorators", _ALIVE_DOC)
        self._add("/list", "list", self.list, ("GET",), "list_decorators", _LIST_DOC)
        for rule in _url_rules(config.values()):
            view, decorators, operations = self._builtin_view(rule)
            self._add(rule.rule, rule.endpoint, view, rule.methods, decorators, operations)
        if config.plugins is not None:
            for route in collect_routes(config.plugins):
                bound = _bind(route.view, self)
                self._add(
                    route.path,
                    f"plugin:{route.plugin}:{route.path}",
                    bound,
                    route.methods,
                    route.decorators,
                    openapi.generic_operations(route.methods, f"Added by plugin {route.plugin}"),
                )
        self._add_openapi()

    # -- building ----------------------------------------------------------------------------

    def _add(
        self,
        path: str,
        endpoint: str,
        view: View,
        methods: Iterable[str],
        decorators: str | None,
        operations: dict[str, Any] | None = None,
    ) -> None:
        if endpoint in self.views or any(r.rule == path for r in self.url_map.iter_rules()):
            raise ConfigError(f"two endpoints want the path {path!r}")
        methods = tuple(methods)
        self.url_map.add(Rule(path, endpoint=endpoint, methods=list(methods)))
        self.views[endpoint] = decorate(view, self.config, decorators) if decorators else view
        self.api_paths[path] = operations or openapi.generic_operations(methods, endpoint)

    def _add_openapi(self) -> None:
        if any(rule.rule == OPENAPI_PATH for rule in self.url_map.iter_rules()):
            logger.info("%s is taken by another endpoint; pld does not add its own", OPENAPI_PATH)
            return
        from pld_core import __version__

        title = str(self.service_metadata.get("service_name") or "pld service")
        version = str(self.service_metadata.get("service_version") or __version__)
        self.api_paths[OPENAPI_PATH] = {
            "get": {
                "summary": "This description of the service",
                "responses": {"200": openapi.json_response("The OpenAPI document.")},
            }
        }
        body = json.dumps(openapi.document(title, version, self.api_paths), default=_to_json)

        def describe(request: Request) -> Response:
            return Response(body, mimetype=JSON_MIMETYPE)

        self.url_map.add(Rule(OPENAPI_PATH, endpoint="openapi", methods=["GET"]))
        self.views["openapi"] = decorate(describe, self.config, "openapi_decorators")

    def _add_predict_services(self) -> None:
        for key, value in self.config.items():
            if not _is_predict_service(value):
                continue
            self._add(
                value.entry_point,
                f"predict:{key}",
                self._predict_view(value),
                ("GET", "POST"),
                getattr(value, "decorator_list_name", "predict_decorators"),
                openapi.with_errors(value.openapi_operations(), 400, 500, 503),
            )

    def _predict_view(self, service: Any) -> View:
        get_model = self.models.get

        def predict(request: Request) -> Response:
            model = get_model()
            if model is None:
                return self.error(503, "no model is available to predict with")
            answer = service(model, request)
            if isinstance(answer, Response):
                return answer
            status, body = answer
            return Response(body, status=status, mimetype=JSON_MIMETYPE)

        return predict

    def _builtin_view(self, rule: UrlRule) -> tuple[View, str | None, dict[str, Any]]:
        builtin = {
            "update-model-cache": (
                self.update_model_cache,
                "update_model_cache_decorators",
                "Reload the served model in the background; answers the job id.",
            ),
            "activate": (
                self.activate,
                "activate_decorators",
                "Activate the stored version given as model_version; answers the model list.",
            ),
        }
        if not isinstance(rule.view, str):
            operations = openapi.generic_operations(rule.methods, "A view from the config")
            return _bind(rule.view, self), rule.decorators, operations
        if rule.view in builtin:
            view, decorators, summary = builtin[rule.view]
            return view, decorators, openapi.generic_operations(rule.methods, summary)
        if self._tasks is None:
            self._tasks = collect_tasks(self.config.plugins)
        task = self._tasks.get(rule.view)
        if task is None:
            raise ConfigError(
                f"url rule {rule.rule!r}: no view or task named {rule.view!r} "
                f"(tasks: {task_names(self._tasks)}; views: 'update-model-cache', 'activate')"
            )
        operations = openapi.task_operations(task, rule.methods)
        return self.task_view(task), rule.decorators or task.http_decorators, operations

    # -- WSGI --------------------------------------------------------------------------------

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, _args = adapter.match()
            response = self.views[endpoint](request)
        except HTTPException as exc:
            response = self.error(exc.code or 500, f"{type(exc).__name__}: {exc.description}")
            allowed = getattr(exc, "valid_methods", None)  # 405 must say what is allowed
            if allowed:
                response.headers["Allow"] = ", ".join(sorted(allowed))
        except Exception as exc:
            logger.exception("%s %s failed", request.method, request.path)
            response = self.error(500, f"{type(exc).__name__}: {exc}")
        return response(environ, start_response)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.wsgi_app(environ, start_response)

    # -- answers -----------------------------------------------------------------------------

    def metadata(self, **status: Any) -> dict[str, Any]:
        return {**status, **self.service_metadata}

    def error(self, status: int, message: str, code: int = -1) -> Response:
        """Palladium's error envelope with ``status``."""
        body = {"metadata": self.metadata(status="ERROR", error_code=code, error_message=message)}
        return json_response(body, status)

    # -- views -------------------------------------------------------------------------------

    def alive(self, request: Request) -> Response:
        """Health: versions, memory, metadata, jobs; 503 while a required entry is missing."""
        from pld_core import __version__

        memory = self._process.memory_info()
        body: dict[str, Any] = {
            "pld_version": __version__,
            "palladium_version": __version__,
            "memory_usage": round(memory.rss / 2**20, 3),
            "memory_usage_vms": round(memory.vms / 2**20, 3),
            "service_metadata": self.service_metadata,
            "process_metadata": process_store.get("process_metadata", {}),
        }
        status = 200
        required = (self.config.get("alive") or {}).get("process_store_required") or ()
        for name in required:
            value = process_store.get(name)
            if value is None:
                body[name] = "N/A"
                status = 503
                continue
            entry: dict[str, Any] = {"updated": process_store.mtime[name].isoformat()}
            if hasattr(value, "__metadata__"):
                entry["metadata"] = value.__metadata__
            body[name] = entry
        return json_response(body, status)

    def list(self, request: Request) -> Response:
        """The stored models and the persister's properties."""
        return json_response(admin.list_models(self.config))

    def task_view(self, task: Task) -> View:
        """Start ``task`` in the background with the request's options; answer the job id."""
        config = self.config

        def start(request: Request) -> Response:
            try:
                options = task.options_from_request(_request_options(request))
            except OptionError as exc:
                return self.error(400, f"BadRequest: {exc}")

            def job() -> Any:
                return task.run(config, **options)

            _thread, job_id = run_job(process_store, task.name, job, params=options)
            return json_response({"job_id": job_id})

        return start

    def update_model_cache(self, request: Request) -> Response:
        """Reload the served model in the background; answer the job id at once."""
        _thread, job_id = run_job(process_store, "update-model-cache", self.models.reload)
        return json_response({"job_id": job_id})

    def activate(self, request: Request) -> Response:
        """Activate ``model_version`` (query or form); answer the model list."""
        raw = request.values.get("model_version")
        if raw is None:
            return self.error(400, "BadRequest: missing parameter 'model_version'")
        try:
            version = int(raw)
        except ValueError:
            return self.error(400, f"BadRequest: model_version {raw!r} is not an integer")
        try:
            admin.activate(self.config, version)
        except LookupError as exc:
            return self.error(404, str(exc.args[0] if exc.args else exc))
        return json_response(admin.list_models(self.config))


_ALIVE_DOC = {
    "get": {
        "summary": "Health: versions, memory, the loaded model's metadata, background jobs",
        "responses": {
            "200": openapi.json_response("The service is ready."),
            "503": openapi.json_response(
                "An entry listed in alive.process_store_required is not loaded yet (e.g. no model)."
            ),
        },
    }
}
_LIST_DOC = {
    "get": {
        "summary": "The stored model versions with their metadata, and the store's properties",
        "responses": {"200": openapi.json_response("The models and properties.")},
    }
}


def _request_options(request: Request) -> dict[str, Any]:
    """Options from the query string plus the form or a JSON object body, each given once."""
    given: list[tuple[str, Any]] = list(request.args.items(multi=True))
    if request.is_json and request.get_data(cache=True):  # an empty body gives no options
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadRequest("the JSON body must be an object of option names and values")
        given.extend(body.items())
    else:
        given.extend(request.form.items(multi=True))
    values: dict[str, Any] = {}
    for name, value in given:
        if name in values:  # which one would count? Refuse to guess.
            raise BadRequest(f"option {name!r} is given more than once")
        values[name] = value
    return values


def _is_predict_service(value: Any) -> bool:
    from pld_core.interfaces import PredictService

    return isinstance(value, PredictService) and isinstance(
        getattr(value, "entry_point", None), str
    )


def _url_rules(values: Iterable[Any]) -> list[UrlRule]:
    found: list[UrlRule] = []
    for value in values:
        if isinstance(value, UrlRule):
            found.append(value)
        elif isinstance(value, list | tuple):
            found.extend(_url_rules(value))
    return found


def _bind(view: Callable[..., Any], app: PldApp) -> View:
    def bound(request: Request) -> Response:
        return view(request, app)

    return bound


def create_app(config: Config) -> PldApp:
    """The WSGI application for ``config`` (load it without ``__mode__``: serving mode)."""
    return PldApp(config)
