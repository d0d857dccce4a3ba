"""Endpoints a config mounts with ``url-rule`` entries, and the views pld offers for them.

Palladium 1.2 configs add endpoints with ``palladium.server.add_url_rule`` components; pld
accepts them unchanged and offers the short name ``url-rule``::

    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
    ],

``view_func`` names a view a plugin registered — this plugin's ``update-model-cache`` and
``activate``, a task (``fit``, ``grid-search``), Palladium's names for these
(``palladium.server.update_model_cache``) — or is a dotted path or a callable
``view(request, app)``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from werkzeug.wrappers import Request, Response

from pld_core import (
    App,
    ConfigError,
    PldError,
    hookimpl,
    import_dotted,
    list_models,
    process_store,
    run_job,
    to_version,
)

_PALLADIUM_VIEWS = "palladium.server."
logger = logging.getLogger(__name__)


class UrlRule:
    """An extra endpoint: ``rule`` answered by the view ``view_func`` names.

    :param rule: the URL path, e.g. ``/fit``.
    :param view_func: a registered view's name (tasks included), Palladium's name for one, a
        dotted path to a view, or a callable ``view(request, app)``. Names are looked up when
        the app is built.
    :param methods: the HTTP methods answered.
    :param decorators: the config decorator list that wraps the view (default: the view's own).
    :param endpoint: ignored; accepted so Palladium's ``add_url_rule`` entries load.
    """

    def __init__(
        self,
        rule: str,
        view_func: str | Callable[..., Any],
        methods: Sequence[str] = ("GET", "POST"),
        decorators: str | None = None,
        endpoint: str | None = None,
    ):
        if not rule.startswith("/"):
            raise ValueError(f"rule must start with '/', not {rule!r}")
        if not isinstance(view_func, str) and not callable(view_func):
            raise ValueError(f"view_func {view_func!r} is not callable")
        self.rule = rule
        self.methods = tuple(m.upper() for m in methods)
        self.decorators = decorators
        self.view = view_func
        if isinstance(view_func, str) and view_func.startswith(_PALLADIUM_VIEWS):
            # Palladium's view functions: palladium.server.update_model_cache → update-model-cache
            self.view = view_func.removeprefix(_PALLADIUM_VIEWS).replace("_", "-")

    def mount(self, app: App, register: Callable[..., None]) -> None:
        """Register this endpoint with the view it names, looked up among ``app.named_views``."""
        origin = f"url-rule {self.rule!r}"
        if not isinstance(self.view, str):
            register(self.rule, _as_view(self.view), self.methods, self.decorators, origin=origin)
            return
        named = app.named_views.get(self.view)
        if named is not None:
            given = named.openapi or {}
            operations = {m: op for m, op in given.items() if m.upper() in self.methods}
            decorators = self.decorators or named.decorators
            summary = named.summary or named.name
            register(
                self.rule, named.view, self.methods, decorators, operations or None, origin, summary
            )
            return
        if "." not in self.view and ":" not in self.view:
            raise ConfigError(
                f"url rule {self.rule!r}: no view or task named {self.view!r} "
                f"(tasks: {_names(app.tasks)}; views: {_names(app.named_views)})"
            )
        view = _as_view(import_dotted(self.view))
        register(self.rule, view, self.methods, self.decorators, origin=origin)


def _as_view(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` as a ``view(request, app)``: Palladium's Flask views take no arguments (they
    read ``flask.request``), so those are called without any and their answer made a response."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return func
    try:
        signature.bind(None, None)
        return func
    except TypeError:
        pass
    try:
        signature.bind()
    except TypeError:
        return func

    @functools.wraps(func)
    def view(request: Request, app: App) -> Response:
        return _response(func(), app)

    return view


def _response(result: Any, app: App) -> Response:
    """A Flask view's answer as a response: Flask's own conversion when flask is loaded."""
    if isinstance(result, Response):
        return result
    flask = sys.modules.get("flask")
    if flask is not None and flask.has_app_context():
        made: Response = flask.current_app.make_response(result)
        return made
    if isinstance(result, str):
        return Response(result, mimetype="text/html")
    return app.json(result)


def _names(found: dict[str, Any]) -> str:
    return ", ".join(repr(name) for name in sorted(found)) or "none"


def url_rules(values: Iterable[Any]) -> list[UrlRule]:
    """The url rules among ``values``, also inside lists (Palladium's ``flask_add_url_rules``)."""
    found: list[UrlRule] = []
    for value in values:
        if isinstance(value, UrlRule):
            found.append(value)
        elif isinstance(value, list | tuple):
            found.extend(url_rules(value))
    return found


def update_model_cache(request: Request, app: App) -> Response:
    """Reload the served model in the background; answer the job id at once.

    Any persister's model can be reloaded (the app keeps the model it serves); with no
    ``model_persister`` there is nothing to reload: 503, as Palladium answered.
    """
    if app.models.persister is None:
        return app.error(503, f"there is no {app.models.key!r} to reload the model from")
    _thread, job_id = run_job(process_store, "update-model-cache", app.models.reload)
    return app.json({"job_id": job_id})


def activate(request: Request, app: App) -> Response:
    """Activate ``model_version`` (query or form); answer the model list."""
    raw = request.values.get("model_version")
    if raw is None:
        return app.error(400, "BadRequest: missing parameter 'model_version'")
    try:
        version = to_version(raw)
    except ValueError as exc:
        return app.error(400, f"BadRequest: model_version: {exc}")
    try:
        app.config["model_persister"].activate(version)
    except LookupError as exc:
        return app.error(404, str(exc.args[0] if exc.args else exc))
    except PldError as exc:  # a store's own one-line message, e.g. the database is down
        logger.error("activating version %s failed", version, exc_info=exc)
        return app.error(500, str(exc))
    except Exception as exc:  # its text may quote SQL or paths: the log has it, not the client
        logger.error("activating version %s failed", version, exc_info=exc)
        return app.error(
            500, f"activating version {version} failed ({type(exc).__name__}); see the server log"
        )
    _serve_active(app)
    return app.json(list_models(app.config))


def _serve_active(app: App) -> None:
    """Serve the version just activated at once; if it cannot load, the old one serves on
    (``/alive`` and the predict answers say why when there is none)."""
    try:
        app.models.reload()
    except Exception as exc:
        logger.error("activated, but the model could not be loaded: %s", exc)


@hookimpl
def pld_register_components(register: Callable[..., None]) -> None:
    register("url-rule", UrlRule, aliases=["palladium.server.add_url_rule"])


@hookimpl
def pld_register_views(register: Callable[..., None]) -> None:
    register(
        "update-model-cache",
        update_model_cache,
        decorators="update_model_cache_decorators",
        summary="Reload the served model in the background; answers the job id.",
    )
    register(
        "activate",
        activate,
        decorators="activate_decorators",
        summary="Activate the stored version given as model_version; answers the model list.",
    )


@hookimpl
def pld_register_routes(register: Callable[..., None], app: App | None) -> None:
    if app is None:  # only listing what plugins register: the config's rules are not known
        return
    for rule in url_rules(app.config.values()):
        rule.mount(app, register)
