"""``pld version`` and ``pld plugins``: what is installed."""

from __future__ import annotations

from collections.abc import Callable

import click

from pld_core import (
    __version__,
    command_plugins,
    common_options,
    describe_plugins,
    encode_text,
    hookimpl,
)


@click.command("version")
@common_options
def version_command() -> None:
    """Print pld's version."""
    click.echo(__version__)


@click.command("plugins")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins_command(as_json: bool) -> None:
    """List the plugins, their hooks, and the components, commands, routes and tasks they add."""
    described = describe_plugins(command_plugins())
    if as_json:
        click.echo(encode_text(described, indent=True))
        return
    for plugin in described:
        version = f" {plugin['version']}" if plugin["version"] else ""
        dist = f" ({plugin['distribution']}{version})" if plugin["distribution"] else ""
        click.echo(f"{plugin['name']}{dist}")
        click.echo(f"  hooks: {', '.join(plugin['hooks']) or '-'}")
        for kind in ("components", "commands", "tasks", "routes", "views"):
            if plugin[kind]:
                click.echo(f"  {kind}: {', '.join(plugin[kind])}")


@hookimpl
def pld_register_commands(register: Callable[..., None]) -> None:
    register(version_command)
    register(plugins_command)
