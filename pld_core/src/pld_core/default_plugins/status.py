"""``/alive`` and ``/list``: is the service ready, and what the model store holds."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from pld_core import App, __version__, hookimpl, job_records, list_models, process_store
from pld_core.default_plugins.tasks import app_jobs

logger = logging.getLogger(__name__)


@functools.cache
def _process() -> Any:
    """This process for psutil, imported on the first ``/alive``: commands never need it."""
    import psutil

    return psutil.Process()


def alive(request: Request, app: App) -> Response:
    """Health: versions, memory, metadata, jobs; 503 while a required entry is missing.

    ``alive: {'process_store_required': [...]}`` names what must be loaded: the served model
    under its persister's config key (``model_persister``), or any ``process_store`` entry.
    While the served model is missing, ``model_error`` says why (none active, corrupt,
    unreadable): the same reason the predict endpoints answer with; while there is one,
    ``served_by`` says what predicts with it (``python``, or ``onnx`` for a compiled form).
    """
    memory = _process().memory_info()
    body: dict[str, Any] = {
        "pld_version": __version__,
        "palladium_version": __version__,
        "memory_usage": round(memory.rss / 2**20, 3),
        "memory_usage_vms": round(memory.vms / 2**20, 3),
        "service_metadata": app.service_metadata,
        "process_metadata": _process_metadata(app),
    }
    status = 200
    if app.models.persister is not None and app.models.current() is None:
        body["model_error"] = app.models.problem() or "no model is loaded"
    elif app.models.persister is not None:
        body["served_by"] = app.models.served_by()
    required = (app.config.get("alive") or {}).get("process_store_required") or ()
    for name in required:
        value, updated = _loaded(app, name)
        if value is None:
            body[name] = "N/A"
            status = 503
            continue
        entry: dict[str, Any] = {"updated": updated.isoformat() if updated else None}
        if hasattr(value, "__metadata__"):
            entry["metadata"] = value.__metadata__
        body[name] = entry
    return app.json(body, status)


def _process_metadata(app: App) -> dict[str, Any]:
    """This process's metadata; ``jobs`` also holds every job of a shared job store."""
    metadata: dict[str, Any] = dict(process_store.get("process_metadata", {}))
    try:
        jobs = app_jobs(app)
        if jobs.shared:  # this process's own jobs (``update-model-cache``) and everyone's
            metadata["jobs"] = {**metadata.get("jobs", {}), **job_records(jobs)}
    except Exception as exc:  # health must answer while the job store is down
        logger.warning("/alive: the job store cannot be read", exc_info=exc)
        metadata["jobs_error"] = f"the job store cannot be read ({type(exc).__name__})"
    return metadata


def _loaded(app: App, name: str) -> tuple[Any, Any]:
    """What is loaded under ``name`` and when: the app's own model, else ``process_store``."""
    if name == app.models.key and not app.models.caching:
        return app.models.current(), app.models.loaded_at
    return process_store.get(name), process_store.mtime.get(name)


def list_view(request: Request, app: App) -> Response:
    """The stored models and the persister's properties."""
    return app.json(list_models(app.config))


_ALIVE_DOC = {
    "get": {
        "summary": "Health: versions, memory, the loaded model's metadata, background jobs",
        "responses": {
            "200": {"description": "The service is ready."},
            "503": {
                "description": "An entry in alive.process_store_required is not loaded "
                "(e.g. no model: model_error says why)."
            },
        },
    }
}
_LIST_DOC = {
    "get": {
        "summary": "The stored model versions with their metadata, and the store's properties",
        "responses": {"200": {"description": "The models and properties."}},
    }
}


@hookimpl
def pld_register_routes(register: Callable[..., None]) -> None:
    register("/alive", alive, decorators="alive_decorators", openapi=_ALIVE_DOC)
    register("/list", list_view, decorators="list_decorators", openapi=_LIST_DOC)
