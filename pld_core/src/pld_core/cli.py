"""The CLI shell: the ``pld`` group, its options, its one-line errors; commands come from plugins.

``make_cli()`` builds a new group each time from what plugins register: commands through
``pld_register_commands`` (pld's own ``test``, ``list``, ``serve``... too) and one command per
task. Failures print one line to stderr: exit 1 for runtime failures, 2 for usage and config
errors; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click
import pluggy

from pld_core.config import Config, load_config, use_config
from pld_core.errors import PldError, PluginConflictError
from pld_core.plugins import get_plugin_manager
from pld_core.registry import collect_commands, collect_tasks
from pld_core.tasks import Option, Task

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

    def config(self, mode: str | None = FIT_MODE) -> Config:
        """Load the config once per command run (fit mode for offline commands)."""
        if self._config is None:
            extra = {"__mode__": mode} if mode else {}
            self._config = load_config(self.config_path, plugins=self.plugins(), **extra)
            use_config(self._config)
            if self.debug:
                logging.getLogger().setLevel(logging.DEBUG)
        return self._config


class CliFailure(click.ClickException):
    """One line on stderr and a chosen exit status."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class PldGroup(click.Group):
    """Turns pld's exceptions into one-line errors unless ``--debug`` is on."""

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


def _failure(exc: Exception) -> CliFailure:
    if isinstance(exc, PldError):
        return CliFailure(str(exc), exc.exit_code)
    if isinstance(exc, LookupError):
        message = exc.args[0] if len(exc.args) == 1 else str(exc)
        return CliFailure(str(message), 1)
    return CliFailure(f"{type(exc).__name__}: {exc}", 1)


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
        help="Config file(s), comma-separated. Default: $PLD_CONFIG, then $PALLADIUM_CONFIG.",
    )(func)


pass_state = click.make_pass_decorator(CliState, ensure=True)


def make_cli(pm: pluggy.PluginManager | None = None) -> click.Group:
    """Build the ``pld`` group: the commands and tasks the plugins in ``pm`` register."""
    if pm is None:
        pm = get_plugin_manager()

    @click.group(cls=PldGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @common_options
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        """pld: one config file to a trained, tested, versioned and served model."""
        ctx.ensure_object(CliState).pm = pm

    commands = collect_commands(pm)
    for task in collect_tasks(pm).values():
        taken = commands.get(task.name)
        if taken is not None:
            raise PluginConflictError(
                f"command {task.name!r} is registered twice: as a command by plugin "
                f"{taken.plugin!r} and as a task by plugin {task.plugin!r}"
            )
        cli.add_command(task_command(task))
    for name, command in commands.items():
        cli.add_command(command.command, name=name)
    return cli


def task_command(task: Task) -> click.Command:
    """``pld <task>``: the task's options as Click options, then ``task.run`` and its report.

    While the task runs, anything printed to stdout (scikit-learn's ``verbose`` output) goes to
    stderr, so stdout carries only the report.
    """

    @pass_state
    def callback(state: CliState, **values: Any) -> None:
        options = task.options_from_cli(values)
        config = state.config()
        with contextlib.redirect_stdout(sys.stderr):
            result = task.run(config, **options)
        if task.report is not None:
            task.report(result, options, click.echo)

    decorated: Callable[..., Any] = callback
    for option in reversed(task.options):  # decorators apply bottom-up: keep the declared order
        decorated = _click_option(option)(decorated)
    return click.command(task.name, help=task.help)(common_options(decorated))


def _click_option(option: Option) -> Callable[[Any], Any]:
    declarations = (*option.cli_flags, option.name)
    if option.kind is bool:
        return click.option(
            *declarations,
            is_flag=True,
            flag_value=not option.negates,
            default=bool(option.default),
            help=option.help,
        )
    return click.option(
        *declarations,
        type=option.kind,
        default=option.default,
        metavar=option.metavar,
        help=option.help,
    )


def main(args: Sequence[str] | None = None, prog_name: str | None = None) -> None:
    """Run the ``pld`` command line."""
    try:
        cli = make_cli()
    except PldError as exc:  # a plugin failed to load or conflicts with another
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    cli.main(args=list(args) if args is not None else None, prog_name=prog_name)


def command_config(mode: str | None = FIT_MODE) -> Config:
    """The config of the running ``pld`` command: its ``--config``, else the environment.

    For commands that plugins add through ``pld_register_commands``; ``mode=None`` loads it
    for serving. Loaded once per command run.
    """
    return click.get_current_context().ensure_object(CliState).config(mode)


def command_plugins() -> pluggy.PluginManager:
    """The plugin manager of the running ``pld`` command (for commands that describe plugins)."""
    return click.get_current_context().ensure_object(CliState).plugins()


def make_script(script: str, command: str) -> Callable[[], None]:
    """A console-script entry point that runs ``pld <command>`` named ``script``.

    Plugins use it for Palladium-style scripts, e.g. ``pld-grid-search``.
    """

    def run() -> None:
        main([command, *sys.argv[1:]], prog_name=script)

    run.__doc__ = f"The Palladium-style ``{script}`` script: ``pld {command}``."
    return run
