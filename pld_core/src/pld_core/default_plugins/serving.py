"""``pld serve`` (Palladium's ``devserver``, kept as a hidden alias): the WSGI app on
Werkzeug's development server."""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable

import click

from pld_core import command_config, common_options, create_app, hookimpl


@click.command("serve")
@common_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--threaded/--no-threaded", default=True, show_default=True, help="Answer requests in threads."
)
def serve_command(host: str, port: int, threaded: bool) -> None:
    """Serve the predict service(s) over HTTP with Werkzeug's development server.

    For production, run the WSGI app pld_core.wsgi:app under gunicorn.
    """
    from werkzeug import serving  # only this command needs the dev server

    config = command_config(mode=None)
    config.require("model_persister", "pld serve reads the model to serve from it")
    app = create_app(config)
    serving._log_add_style = _log_is_a_terminal()  # no colour codes in log files
    serving.run_simple(host, port, app, threaded=threaded, use_reloader=False)


def _log_is_a_terminal() -> bool:
    """Whether every handler Werkzeug's log reaches writes to a terminal (``NO_COLOR`` aside)."""
    if os.environ.get("NO_COLOR"):
        return False
    logger: logging.Logger | None = logging.getLogger("werkzeug")
    handlers: list[logging.Handler] = []
    while logger is not None:
        handlers.extend(logger.handlers)
        logger = logger.parent if logger.propagate else None
    if not handlers and logging.lastResort is not None:
        handlers = [logging.lastResort]
    return bool(handlers) and all(
        isinstance(handler, logging.StreamHandler)
        and callable(getattr(handler.stream, "isatty", None))
        and handler.stream.isatty()
        for handler in handlers
    )


#: ``pld devserver``, Palladium's name: the same command, not listed in ``pld --help``.
devserver_command = copy.copy(serve_command)
devserver_command.hidden = True


@hookimpl
def pld_register_commands(register: Callable[..., None]) -> None:
    register(serve_command)
    register(devserver_command, "devserver")
