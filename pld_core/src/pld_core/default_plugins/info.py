"""``pld version`` and ``pld plugins``: what is installed.

Both run although plugins clash (``despite_clashes``): ``pld plugins`` is where a clash is
seen, each clashing name marked at both plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    """List the plugins, their hooks, and the components, commands, routes and tasks they add;
    mark names two plugins register."""
    described = describe_plugins(command_plugins())
    if as_json:
        click.echo(encode_text(described, indent=True))
        return
    messages: dict[str, None] = {}
    for plugin in described:
        version = f" {plugin['version']}" if plugin["version"] else ""
        dist = f" ({plugin['distribution']}{version})" if plugin["distribution"] else ""
        click.echo(f"{plugin['name']}{dist}")
        click.echo(f"  hooks: {', '.join(plugin['hooks']) or '-'}")
        for kind in ("components", "commands", "tasks", "routes", "views"):
            if plugin[kind]:
                names = [_marked(name, kind, plugin["clashes"]) for name in plugin[kind]]
                click.echo(f"  {kind}: {', '.join(names)}")
        messages.update(dict.fromkeys(clash["message"] for clash in plugin["clashes"]))
    if messages:
        count = f"{len(messages)} name clash{'es' if len(messages) > 1 else ''}"
        click.echo(
            f"\n{count}; other commands stop until one plugin of each pair is disabled"
            " (PLD_DISABLE_PLUGINS):"
        )
        for message in messages:
            click.echo(f"  {message}")


def _marked(name: str, kind: str, clashes: list[dict[str, Any]]) -> str:
    """``name [CLASH]`` when it clashes; a task clashes by its command and view too."""
    kinds = {kind[:-1], "command", "view"} if kind == "tasks" else {kind[:-1]}
    hit = any(clash["name"] == name and clash["kind"] in kinds for clash in clashes)
    return f"{name} [CLASH]" if hit else name


@hookimpl
def pld_register_commands(register: Callable[..., None]) -> None:
    register(version_command, despite_clashes=True)
    register(plugins_command, despite_clashes=True)
