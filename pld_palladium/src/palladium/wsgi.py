"""``gunicorn palladium.wsgi:app``: the config is loaded at import, in serving mode, so the model
is in memory before the first request (as Palladium's ``palladium.wsgi`` did)."""

from __future__ import annotations

from palladium.server import _get_app
from pld_core import App

__all__ = ["app"]

app: App = _get_app()
