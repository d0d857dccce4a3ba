"""The CLI shell: the ``pld`` group, its options, its one-line errors; commands come from plugins.

``make_cli()`` builds a new group each time from what plugins register: commands through
``pld_register_commands`` (pld's own ``test``, ``list``, ``serve``... too) and one command per
task. Failures print one line to stderr: exit 1 for runtime failures, 2 for usage and config
errors; ``--debug`` shows the traceback instead. Names two plugins register are one line and
exit 2 too; the ``pld`` command still builds its group then, so the commands registered with
``despite_clashes`` (``pld plugins``) run and show the clash.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click
import pluggy

from pld_core.config import DEFAULT_CONFIG_FILES, Config, load_config, use_config
from pld_core.errors import PldError, PluginConflictError
from pld_core.plugins import get_plugin_manager
from pld_core.registry import (
    Clashes,
    collect_commands,
    collect_tasks,
    describe_clashes,
    find_clashes,
)

FIT_MODE = "fit"


@dataclass
class CliState:
    """What the group's options decided, shared with every sub-command."""

    pm: pluggy.PluginManager | None = None
    config_path: str | None = None
    debug: bool = False
    _config: Config | None = field(default=None, repr=False)

    def plugins(self) -> pluggy.PluginManager:
        if self.pm is None:
            self.pm = get_plugin_manager()
        return self.pm

    def config(self, mode: str | None = FIT_MODE, lazy: bool | None = None) -> Config:
        """Load the config once per command run (fit mode for offline commands).

        Offline commands that are not tasks (``pld list``, ``pld admin``, ``pld upgrade``...)
        load it lazily: an entry is built when the command uses it, so they build the
        persister, not the model, and never import the model's libraries. Tasks and serving
        build every entry, as Palladium did: a config may hold an entry only for what
        building it does (a dask ``Client`` that the grid search then uses). ``lazy`` says
        otherwise (``pld predict`` reads a stored model, it builds no ``model``).
        """
        if self._config is None:
            extra = {"__mode__": mode} if mode else {}
            if lazy is None:
                lazy = mode == FIT_MODE and not self._running_a_task()
            self._config = load_config(self.config_path, plugins=self.plugins(), lazy=lazy, **extra)
            use_config(self._config)
            if self.debug:
                logging.getLogger().setLevel(logging.DEBUG)
        return self._config

    def _running_a_task(self) -> bool:
        context = click.get_current_context(silent=True)
        if context is None:
            return True
        root = context.find_root()
        name = root.invoked_subcommand
        if isinstance(root.command, PldGroup):
            name = root.command.command_name(name)
        return name is None or name in collect_tasks(self.plugins())


class CliFailure(click.ClickException):
    """One line on stderr; exit status 1 (a runtime failure)."""

    exit_code = 1


class CliUsageFailure(CliFailure):
    """One line on stderr; exit status 2 (bad usage or config)."""

    exit_code = 2


class PldGroup(click.Group):
    """Turns pld's exceptions into one-line errors unless ``--debug`` is on.

    :ivar script: ``(script, command)`` when a Palladium-style script (``pld-fit``) runs the
        group for one command, so usage lines and hints name the script alone.
    """

    script: tuple[str, str] | None = None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if self.script is not None and name == self.script[1]:
            return self.script[0], command, rest  # "Usage: pld-fit [OPTIONS]"
        return name, command, rest

    def command_name(self, invoked: str | None) -> str | None:
        """The command's own name for the name it was invoked by (a script's)."""
        if self.script is not None and invoked == self.script[0]:
            return self.script[1]
        return invoked

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command with its whole first sentence, not cut at 45 characters."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=_SUMMARY_LIMIT)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            state = ctx.find_object(CliState)
            if state is not None and state.debug:
                raise
            raise _failure(exc) from None


_SUMMARY_LIMIT = 200


def _failure(exc: Exception) -> CliFailure:
    if isinstance(exc, PldError):
        return CliUsageFailure(str(exc)) if exc.exit_code == 2 else CliFailure(str(exc))
    if isinstance(exc, LookupError):
        message = exc.args[0] if len(exc.args) == 1 else str(exc)
        return CliFailure(str(message))
    return CliFailure(f"{type(exc).__name__}: {exc}")


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(CliState).config_path = value


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliState).debug = True
        logging.getLogger().setLevel(logging.DEBUG)


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--config`` and ``--debug``, accepted by the group and by every command."""
    func = click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help="Show tracebacks and debug logging.",
    )(func)
    return click.option(
        "--config",
        "-c",
        metavar="FILES",
        expose_value=False,
        is_eager=True,
        callback=_set_config,
        help=(
            "Config file(s), comma-separated. Default: $PLD_CONFIG, then $PALLADIUM_CONFIG, "
            f"then the first of {', '.join(DEFAULT_CONFIG_FILES)} in this folder."
        ),
    )(func)


def make_cli(pm: pluggy.PluginManager | None = None, *, defer_clashes: bool = False) -> click.Group:
    """Build the ``pld`` group: the commands and tasks the plugins in ``pm`` register.

    A name two plugins register raises :class:`~pld_core.PluginConflictError`; with
    ``defer_clashes`` the group is built anyway and only commands registered with
    ``despite_clashes`` run, every other one exits 2 with the clash in one line.
    """
    if pm is None:
        pm = get_plugin_manager(check=False)  # checked here, all names at once
    found = find_clashes(pm)
    if found and not defer_clashes:
        raise PluginConflictError(describe_clashes(found))
    commands = collect_commands(pm, clashes=Clashes(pm))
    despite = {name for name, command in commands.items() if command.despite_clashes}

    @click.group(cls=PldGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @common_options
    @click.version_option(package_name="pld-core", prog_name="pld", message="%(prog)s %(version)s")
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        """pld: one config file to a trained, tested, versioned and served model."""
        ctx.ensure_object(CliState).pm = pm
        group = ctx.command
        invoked = ctx.invoked_subcommand
        if isinstance(group, PldGroup):
            invoked = group.command_name(invoked)
        if found and invoked not in despite:
            raise CliUsageFailure(describe_clashes(found))

    for name, command in commands.items():
        cli.add_command(command.command, name=name)
    return cli


def main(
    args: Sequence[str] | None = None,
    prog_name: str | None = None,
    *,
    script: tuple[str, str] | None = None,
) -> None:
    """Run the ``pld`` command line; ``script=(name, command)`` runs one command as ``name``."""
    try:
        cli = make_cli(defer_clashes=True)
    except PldError as exc:  # a plugin failed to load
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if script is not None and isinstance(cli, PldGroup):
        cli.script = script
        prog_name = ""  # the command's usage line is then "<script> [OPTIONS]"
    cli.main(args=list(args) if args is not None else None, prog_name=prog_name)


def command_config(mode: str | None = FIT_MODE, lazy: bool | None = None) -> Config:
    """The config of the running ``pld`` command: its ``--config``, else the environment.

    For commands that plugins add through ``pld_register_commands``; ``mode=None`` loads it
    for serving. Loaded once per command run. ``lazy=True`` builds each entry when the command
    first uses it (default: so for fit-mode commands that are not tasks).
    """
    return click.get_current_context().ensure_object(CliState).config(mode, lazy)


def command_plugins() -> pluggy.PluginManager:
    """The plugin manager of the running ``pld`` command (for commands that describe plugins)."""
    return click.get_current_context().ensure_object(CliState).plugins()


def make_script(script: str, command: str) -> Callable[[], None]:
    """A console-script entry point that runs ``pld <command>`` named ``script``.

    Plugins use it for Palladium-style scripts, e.g. ``pld-grid-search``.
    """

    def run() -> None:
        main([command, *sys.argv[1:]], script=(script, command))

    run.__doc__ = f"The Palladium-style ``{script}`` script: ``pld {command}``."
    return run
