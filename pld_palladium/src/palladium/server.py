"""``palladium.server``: the WSGI ``app``, ``PredictService`` and ``make_ujson_response``.

``app`` is pld's WSGI application for the process's configuration, built on first access
(so importing this module reads no config). It is not a Flask app: Flask extensions that
need one (Flask-OAuthlib's ``init_app``) do not attach to it; decorators and views that read
``flask.request`` do work.
"""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.wrappers import Response

from pld_core import App, create_app, get_config, json_response
from pld_plugins.predict import PredictService

__all__ = ["PredictService", "app", "make_ujson_response"]

_lock = threading.Lock()
_app: App | None = None
#: The WSGI application, built from the process's config on first access.
app: App


def make_ujson_response(obj: Any, status_code: int = 200) -> Response:
    """``obj`` as a compact JSON answer with ``status_code``."""
    return json_response(obj, status_code)


def _get_app() -> App:
    global _app
    with _lock:
        if _app is None:
            _app = create_app(get_config())
        return _app


def __getattr__(name: str) -> Any:
    if name == "app":
        return _get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
