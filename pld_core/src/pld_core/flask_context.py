"""``flask.request`` for Palladium's decorators and views, without pld depending on Flask.

Palladium served through Flask, so the decorators its users wrote (Basic Auth, OAuth) and
the views they mounted read ``flask.request``. pld serves through Werkzeug alone. When the
user's code has imported flask by the time an app is built (a decorator or view module did
``from flask import request``), the app makes each request a ``flask.Request`` (a subclass of
Werkzeug's, so every pld view works on it unchanged) and answers it inside a Flask request
context holding that same object: ``flask.request`` *is* the request pld's views get, and the
body is read once. Without flask in ``sys.modules`` nothing here is used and flask is never
imported.
"""

from __future__ import annotations

import importlib
import sys
from contextlib import AbstractContextManager
from typing import Any

from werkzeug.wrappers import Request

__all__ = ["FlaskContext", "flask_context"]


class FlaskContext:
    """Makes Flask requests and the request contexts ``flask.request`` reads."""

    def __init__(self, flask: Any) -> None:
        ctx = importlib.import_module("flask.ctx")
        self.request_class: type[Request] = flask.Request
        self._context_class = ctx.RequestContext
        # A bare app, only the context's owner: no secret key (sessions are null), and no
        # URL adapter, so pushing a context does not route the request a second time.
        owner = type("PldContextOwner", (flask.Flask,), {"create_url_adapter": _no_adapter})
        self.app = owner("pld")

    def context(self, request: Request) -> AbstractContextManager[Any]:
        """The request context in which ``flask.request`` is ``request``."""
        manager: AbstractContextManager[Any] = self._context_class(
            self.app, request.environ, request=request
        )
        return manager


def _no_adapter(app: Any, request: Any) -> None:
    return None


def flask_context() -> FlaskContext | None:
    """A :class:`FlaskContext` if flask has been imported (by the user's code), else ``None``."""
    flask = sys.modules.get("flask")
    if flask is None or not hasattr(flask, "Flask"):
        return None
    return FlaskContext(flask)
