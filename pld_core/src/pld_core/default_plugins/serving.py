"""``pld serve`` (Palladium's ``devserver``): the WSGI app on Werkzeug's development server."""

from __future__ import annotations

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
    from werkzeug.serving import run_simple  # only this command needs the dev server

    app = create_app(command_config(mode=None))
    run_simple(host, port, app, threaded=threaded, use_reloader=False)


@hookimpl
def pld_register_commands(register: Callable[..., None]) -> None:
    register(serve_command)
    register(serve_command, "devserver")
