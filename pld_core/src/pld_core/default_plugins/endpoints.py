"""The views a config mounts with ``url-rule``: ``update-model-cache`` and ``activate``.

Palladium's ``palladium.server.update_model_cache`` and ``palladium.server.activate`` name them
too. (Tasks such as ``fit`` are mounted the same way; the kernel serves those.)
"""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.wrappers import Request, Response

from pld_core import App, hookimpl, list_models, process_store, run_job


def update_model_cache(request: Request, app: App) -> Response:
    """Reload the served model in the background; answer the job id at once."""
    _thread, job_id = run_job(process_store, "update-model-cache", app.models.reload)
    return app.json({"job_id": job_id})


def activate(request: Request, app: App) -> Response:
    """Activate ``model_version`` (query or form); answer the model list."""
    raw = request.values.get("model_version")
    if raw is None:
        return app.error(400, "BadRequest: missing parameter 'model_version'")
    try:
        version = int(raw)
    except ValueError:
        return app.error(400, f"BadRequest: model_version {raw!r} is not an integer")
    try:
        app.config["model_persister"].activate(version)
    except LookupError as exc:
        return app.error(404, str(exc.args[0] if exc.args else exc))
    return app.json(list_models(app.config))


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
