"""Deployment commands: ``pld dockerize``, ``pld manifest kubernetes|marathon``, ``pld granian``.

The commands live in submodules imported when the ``pld`` group is built, so serving (which
also loads every plugin) never imports them. ``gunicorn_conf`` and ``gunicorn_hooks`` are for
gunicorn, not for pld: the Docker images and the example ``gunicorn.conf.py`` use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pld_core import hookimpl

if TYPE_CHECKING:
    import click

__all__ = ["pld_register_commands"]


@hookimpl
def pld_register_commands(cli: click.Group) -> None:
    from pld_plugins.deploy.dockerize import dockerize_command
    from pld_plugins.deploy.granian_server import granian_command
    from pld_plugins.deploy.manifests import manifest_group

    cli.add_command(dockerize_command)
    cli.add_command(manifest_group)
    cli.add_command(granian_command)
