"""The WSGI application for gunicorn and other servers: ``gunicorn pld_core.wsgi:app``.

The config comes from ``PLD_CONFIG`` (or ``PALLADIUM_CONFIG``) and is loaded at import, in
serving mode, so the model is in memory before the first request.
"""

from __future__ import annotations

from pld_core.config import load_config, use_config
from pld_core.server import create_app

config = load_config()
use_config(config)
app = create_app(config)
