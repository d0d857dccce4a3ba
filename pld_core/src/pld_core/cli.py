"""The ``pld`` command line, and the Palladium-named scripts ``pld-fit``, ``pld-test``, ...

``make_cli()`` builds a new group each time (plugins add commands through
``pld_register_commands``). Failures print one line to stderr: exit 1 for runtime failures,
2 for usage and config errors; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click
import pluggy

from pld_core import admin, evaluation
from pld_core.config import Config, load_config, use_config
from pld_core.errors import PldError, PluginConflictError
from pld_core.tasks import Option, Task, collect_tasks

FIT_MODE = "fit"
#: Bad rows ``pld predict`` names on stderr; all of them are in its output.
SHOWN_ROW_ERRORS = 20


@dataclass
class CliState:
    """What the group's options decided, shared with every sub-command."""

    pm: pluggy.PluginManager | None = None
    config_path: str | None = None
    debug: bool = False
    _config: Config | None = field(default=None, repr=False)

    def plugins(self) -> pluggy.PluginManager:
        if self.pm is None:
            from pld_core.plugins import get_plugin_manager

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
    """Build the ``pld`` group: the core commands plus those plugins register."""
    if pm is None:
        from pld_core.plugins import get_plugin_manager

        pm = get_plugin_manager()

    @click.group(cls=PldGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @common_options
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        """pld: one config file to a trained, tested, versioned and served model."""
        ctx.ensure_object(CliState).pm = pm

    for command in (
        test_command,
        list_command,
        admin_group,
        version_command,
        plugins_command,
        serve_command,
        stream_command,
        predict_command,
        upgrade_command,
        export_command,
    ):
        cli.add_command(command)
    cli.add_command(serve_command, name="devserver")
    for task in collect_tasks(pm).values():
        if task.name in cli.commands:
            raise PluginConflictError(
                f"plugin {task.plugin!r} registers task {task.name!r}, which would replace "
                "the command of that name"
            )
        cli.add_command(task_command(task))
    pm.hook.pld_register_commands(cli=cli)
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


@click.command("test")
@common_options
@click.option(
    "--model-version",
    type=int,
    metavar="VERSION",
    help="The version to test. Default: the active one.",
)
@pass_state
def test_command(state: CliState, model_version: int | None) -> None:
    """Score a stored model on dataset_loader_test."""
    result = evaluation.test(state.config(), model_version)
    click.echo(f"Model version {result.version}:")
    for name, value in result.scores.items():
        click.echo(f"  {name}: {value:.6f}")


@click.command("list")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print models and properties as JSON.")
@pass_state
def list_command(state: CliState, as_json: bool) -> None:
    """List the stored model versions; '*' marks the active one."""
    listing = admin.list_models(state.config())
    if as_json:
        click.echo(json.dumps(listing, indent=2, default=str))
        return
    click.echo(format_model_table(listing["models"], listing["properties"]))


def format_model_table(models: Sequence[dict[str, Any]], properties: dict[str, Any]) -> str:
    """A plain-text table of versions, newest last, with the active one starred."""
    active = str(properties.get("active-model", ""))
    header = ("", "version", "created", "score_train", "score_test", "model")
    rows = [header]
    for info in models:
        rows.append(
            (
                "*" if str(info.get("version")) == active else "",
                str(info.get("version", "")),
                str(info.get("created") or info.get("train_timestamp") or ""),
                _score(info.get("score_train")),
                _score(info.get("score_test")),
                str(info.get("model_class", "")).rsplit(".", 1)[-1],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if len(rows) == 1:
        lines.append("(no models stored)")
    props = ", ".join(f"{k}={v}" for k, v in sorted(properties.items()))
    lines.append(f"properties: {props}" if props else "properties: (none)")
    return "\n".join(lines)


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else ""


@click.group("admin", cls=PldGroup)
@common_options
def admin_group() -> None:
    """Activate or delete stored model versions."""


@admin_group.command("activate")
@common_options
@click.argument("version", type=int)
@pass_state
def activate_command(state: CliState, version: int) -> None:
    """Make VERSION the active model."""
    admin.activate(state.config(), version)
    click.echo(f"Activated model with version {version}.")


@admin_group.command("delete")
@common_options
@click.argument("version", type=int)
@pass_state
def delete_command(state: CliState, version: int) -> None:
    """Delete VERSION and everything stored for it."""
    admin.delete(state.config(), version)
    click.echo(f"Deleted model with version {version}.")


@click.command("serve")
@common_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--threaded/--no-threaded", default=True, show_default=True, help="Answer requests in threads."
)
@pass_state
def serve_command(state: CliState, host: str, port: int, threaded: bool) -> None:
    """Serve the predict service(s) over HTTP with Werkzeug's development server.

    For production, run the WSGI app pld_core.wsgi:app under gunicorn.
    """
    from werkzeug.serving import run_simple

    from pld_core.server import create_app

    app = create_app(state.config(mode=None))
    run_simple(host, port, app, threaded=threaded, use_reloader=False)


@click.command("stream")
@common_options
@click.option(
    "--service",
    default="predict_service",
    show_default=True,
    help="The config entry of the predict service to use.",
)
@pass_state
def stream_command(state: CliState, service: str) -> None:
    """Predict for JSON lines on stdin (each a list of objects); answer JSON lines on stdout."""
    from pld_core.stream import PredictStream

    stream = PredictStream(state.config(mode=None), service)
    stream.listen(sys.stdin, sys.stdout, sys.stderr)


@click.command("predict")
@common_options
@click.option(
    "--input",
    "-i",
    "source",
    default="-",
    show_default=True,
    metavar="FILE",
    help="Samples: CSV with a header row, JSON lines (one object each) or a JSON list. "
    "'-' reads stdin.",
)
@click.option(
    "--output",
    "-o",
    "target",
    default="-",
    show_default=True,
    metavar="FILE",
    help="Where to write the input records with their predictions; '-' is stdout.",
)
@click.option(
    "--format",
    "input_format",
    type=click.Choice(["csv", "jsonl", "json"]),
    help="The input format. Default: from the file's extension; jsonl for stdin.",
)
@click.option(
    "--output-format",
    type=click.Choice(["csv", "jsonl", "json"]),
    help="The output format. Default: from the file's extension, else the input's.",
)
@click.option(
    "--service",
    default="predict_service",
    show_default=True,
    help="The config entry of the predict service to use.",
)
@click.option(
    "--model-version",
    type=int,
    metavar="VERSION",
    help="The stored version to predict with. Default: the active one.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Samples predicted per call to the model.",
)
@click.option(
    "--predictions-only", is_flag=True, help="Write only the predictions, not the input fields."
)
@pass_state
def predict_command(
    state: CliState,
    source: str,
    target: str,
    input_format: str | None,
    output_format: str | None,
    service: str,
    model_version: int | None,
    batch_size: int,
    predictions_only: bool,
) -> None:
    """Predict a file of samples in batches, through the same path as /predict.

    Each output record is the input record plus "prediction"; a sample that cannot be
    predicted gets an "error" instead, is reported on stderr, and makes the exit status 1
    once all the others are written.
    """
    from pld_core import batch, steps
    from pld_core.stream import records_predictor

    config = state.config()
    predict_records = records_predictor(config, service)
    model = steps.read_model(config, model_version)
    try:
        report = batch.run_batch(
            predict_records,
            model,
            source,
            target,
            input_format=input_format,
            output_format=output_format,
            batch_size=batch_size,
            keep_input=not predictions_only,
        )
    except batch.BatchInputError as exc:
        raise CliFailure(str(exc), 2) from None
    for number, message in report.errors[:SHOWN_ROW_ERRORS]:
        click.echo(f"row {number}: {message}", err=True)
    if len(report.errors) > SHOWN_ROW_ERRORS:
        hidden = len(report.errors) - SHOWN_ROW_ERRORS
        click.echo(
            f"... and {hidden} more rows with errors (see the output's error field)", err=True
        )
    summary = f"Predicted {report.predicted} of {report.rows} rows"
    if target != "-":
        summary += f" into {target}"
    if report.errors:
        raise CliFailure(f"{summary}; {len(report.errors)} could not be predicted.", 1)
    click.echo(summary + ".", err=True)


@click.command("upgrade")
@common_options
@click.option(
    "--from",
    "from_version",
    metavar="VERSION",
    help="Upgrade from this schema version instead of the one the store records.",
)
@click.option(
    "--to", "to_version", metavar="VERSION", help="Upgrade only up to this schema version."
)
@pass_state
def upgrade_command(state: CliState, from_version: str | None, to_version: str | None) -> None:
    """Migrate the model store's schema to this pld's version, step by step."""
    now = admin.upgrade(state.config(), from_version, to_version)
    click.echo(f"Upgraded the model store; its schema version is now {now}.")


@click.command("export")
@common_options
@click.option(
    "--version",
    "model_version",
    type=int,
    metavar="VERSION",
    help="The version to export. Default: the active one.",
)
@click.option("--no-activate", is_flag=True, help="Do not activate the exported copy.")
@pass_state
def export_command(state: CliState, model_version: int | None, no_activate: bool) -> None:
    """Copy a model version from model_persister to model_persister_export."""
    source, target = admin.export(state.config(), model_version, activate=not no_activate)
    click.echo(f"Exported model version {source} as version {target}.")
    if not no_activate:
        click.echo(f"Activated model with version {target} in model_persister_export.")


@click.command("version")
@common_options
def version_command() -> None:
    """Print pld's version."""
    from pld_core import __version__

    click.echo(__version__)


@click.command("plugins")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_state
def plugins_command(state: CliState, as_json: bool) -> None:
    """List the installed plugins, their hooks, and the components and tasks they register."""
    from pld_core.plugins import describe_plugins

    described = describe_plugins(state.plugins())
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    for plugin in described:
        version = f" {plugin['version']}" if plugin["version"] else ""
        dist = f" ({plugin['distribution']}{version})" if plugin["distribution"] else ""
        click.echo(f"{plugin['name']}{dist}")
        click.echo(f"  hooks: {', '.join(plugin['hooks']) or '-'}")
        if plugin["components"]:
            click.echo(f"  components: {', '.join(plugin['components'])}")
        if plugin["tasks"]:
            click.echo(f"  tasks: {', '.join(plugin['tasks'])}")


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


def make_script(script: str, command: str) -> Callable[[], None]:
    """A console-script entry point that runs ``pld <command>`` named ``script``.

    Plugins use it for Palladium-style scripts, e.g. ``pld-grid-search``.
    """

    def run() -> None:
        main([command, *sys.argv[1:]], prog_name=script)

    run.__doc__ = f"The Palladium-style ``{script}`` script: ``pld {command}``."
    return run


fit_script = make_script("pld-fit", "fit")
test_script = make_script("pld-test", "test")
list_script = make_script("pld-list", "list")
admin_script = make_script("pld-admin", "admin")
version_script = make_script("pld-version", "version")
devserver_script = make_script("pld-devserver", "serve")
upgrade_script = make_script("pld-upgrade", "upgrade")
export_script = make_script("pld-export", "export")
stream_script = make_script("pld-stream", "stream")
