"""Tasks as commands and endpoints: one declaration, two doors.

Every task a plugin registers (``fit``, ``test``, ``grid-search``...) becomes the command
``pld <name>``, its options Click options, and a view of the same name that a config's
``url-rule`` mounts: it reads the same options from the query string, a form or a JSON body and
runs the task as a background job whose record shows under ``/alive``. Both doors check values
the same way (:class:`pld_core.Option`) and end in ``task.run(config, **options)``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import click
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.wrappers import Request, Response

from pld_core import (
    App,
    Config,
    InProcessJobs,
    JobStore,
    Option,
    OptionError,
    PldError,
    Task,
    cancel_job,
    command_config,
    common_options,
    hookimpl,
    job_record,
    process_store,
    run_job,
)

logger = logging.getLogger(__name__)

_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def task_command(task: Task) -> click.Command:
    """``pld <task>``: the task's options as Click options, then ``task.run`` and its report.

    While the task runs, anything printed to stdout (scikit-learn's ``verbose`` output) goes to
    stderr, so stdout carries only the report.
    """

    def callback(**values: Any) -> None:
        _take_hidden_spellings(task, values)
        options = task.options_from_cli(values)
        config = command_config()
        with contextlib.redirect_stdout(sys.stderr):
            result = task.run(config, **options)
        if task.report is not None:
            task.report(result, options, click.echo)

    decorated: Callable[..., Any] = callback
    for option in reversed(task.options):  # decorators apply bottom-up: keep the declared order
        if option.hidden_flags:
            decorated = _click_option(option, hidden=True)(decorated)
        decorated = _click_option(option)(decorated)
    return click.command(task.name, help=task.help)(common_options(decorated))


def _hidden_name(option: Option) -> str:
    return f"{option.name}__hidden_spelling"


def _take_hidden_spellings(task: Task, values: dict[str, Any]) -> None:
    """An option given under a hidden spelling counts as given under its visible one."""
    ctx = click.get_current_context()
    for option in task.options:
        name = _hidden_name(option)
        if name in values:
            value = values.pop(name)
            if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                values[option.name] = value


def _click_option(option: Option, hidden: bool = False) -> Callable[[Any], Any]:
    """The Click option for ``option``; ``hidden``: the one for its ``hidden_flags``."""
    if hidden:
        declarations = (*option.hidden_flags, _hidden_name(option))
    else:
        declarations = (*option.cli_flags, option.name)
    if option.kind is bool:
        return click.option(
            *declarations,
            is_flag=True,
            flag_value=not option.negates,
            default=bool(option.default),
            help=option.help,
            hidden=hidden,
        )
    return click.option(
        *declarations,
        type=_ParsedOption(option) if option.parse is not None else option.kind,
        default=option.default,
        metavar=option.metavar,
        help=option.help,
        hidden=hidden,
    )


class _ParsedOption(click.ParamType[Any]):
    """An option with its own parser (``Option.parse``): the same check as over HTTP."""

    def __init__(self, option: Option) -> None:
        self.option = option
        self.name = option.kind.__name__

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return self.option.convert(value)
        except OptionError as exc:
            self.fail(str(exc), param, ctx)


def task_view(task: Task) -> Callable[[Request, App], Response]:
    """Start ``task`` in the background with the request's options; answer the job id."""

    def start(request: Request, app: App) -> Response:
        try:
            options = task.options_from_request(request_options(request))
        except OptionError as exc:
            return app.error(400, f"BadRequest: {exc}")
        try:
            jobs = app_jobs(app)
            try:
                job_id = start_job(app.config, task, options, jobs)
            except PldError as exc:  # the runner cannot start it (a scheduler out of reach)
                logger.error("the %s job could not be started: %s", task.name, exc)
                return app.error(503, str(exc))
        except Exception as exc:  # the job store is down: nothing was started
            logger.error("the %s job could not be recorded", task.name, exc_info=exc)
            return app.error(503, f"the job store is not available ({type(exc).__name__})")
        return app.json({"job_id": job_id})

    return start


def start_job(config: Config, task: Task, options: dict[str, Any], jobs: JobStore) -> str:
    """The ``pld_run_job`` hook's answer: a thread here by default, or a plugin's runner."""
    if config.plugins is None:  # a config built by hand: a thread of this process

        def job() -> Any:
            return task.run(config, **options)

        return run_job(process_store, task.name, job, params=options, jobs=jobs)[1]
    job_id: str = config.plugins.hook.pld_run_job(
        config=config, task=task, options=options, jobs=jobs
    )
    return job_id


_job_stores: weakref.WeakKeyDictionary[App, JobStore] = weakref.WeakKeyDictionary()
_job_stores_lock = threading.Lock()


def app_jobs(app: App) -> JobStore:
    """The app's job store (the ``pld_job_store`` hook's answer), asked for once per app."""
    with _job_stores_lock:
        jobs = _job_stores.get(app)
        if jobs is None:
            jobs = _ask_job_store(app.config)
            _job_stores[app] = jobs
        return jobs


def _ask_job_store(config: Config) -> JobStore:
    if config.plugins is None:  # a config built by hand: this process only
        return InProcessJobs(process_store)
    jobs: JobStore = config.plugins.hook.pld_job_store(config=config)
    return jobs


def job_view(request: Request, app: App) -> Response:
    """``GET /jobs/<id>``: the job's record; ``DELETE``: ask it to stop."""
    job_id = request.path.rstrip("/").rsplit("/", 1)[-1]
    try:
        jobs = app_jobs(app)
        if request.method == "DELETE":
            record = cancel_job(jobs, job_id)
        else:
            record = job_record(jobs, job_id)
    except Exception as exc:  # its text may quote SQL or a URL: the log has it
        logger.error("the job store failed for job %s", job_id, exc_info=exc)
        return app.error(503, f"the job store is not available ({type(exc).__name__})")
    if request.method == "DELETE" and record is not None and record.get("status") != "running":
        return app.error(409, f"job {job_id} has ended ({record.get('status')})")
    if record is None:
        return app.error(404, f"no job {job_id!r}")
    return app.json({"job_id": job_id, **record})


def request_options(request: Request) -> dict[str, Any]:
    """Options from the query string plus the form or a JSON object body, each given once."""
    given: list[tuple[str, Any]] = list(request.args.items(multi=True))
    try:  # reading fails on a body the server cannot read (a malformed chunked one)
        data = request.get_data(cache=True) if request.is_json else b""
        form = request.form if not request.is_json else None
    except HTTPException:  # over the size limit: 413
        raise
    except Exception as exc:  # the WSGI server could not read it (a malformed chunked body)
        raise BadRequest(f"the body could not be read: {type(exc).__name__}: {exc}") from None
    if data:  # a JSON body; an empty one gives no options
        try:  # Python's json, so NaN reaches the option check, which names it
            body = json.loads(data)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise BadRequest(f"the JSON body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("the JSON body must be an object of option names and values")
        given.extend(body.items())
    elif form is not None:
        given.extend(form.items(multi=True))
    values: dict[str, Any] = {}
    for name, value in given:
        if name in values:  # which one would count? Refuse to guess.
            raise BadRequest(f"option {name!r} is given more than once")
        values[name] = value
    return values


def task_operations(task: Task, methods: Iterable[str] = ("GET", "POST")) -> dict[str, Any]:
    """OpenAPI operations of a task endpoint: its HTTP options as query, form or JSON fields."""
    options = [option for option in task.options if option.http]
    body = {
        "type": "object",
        "additionalProperties": False,
        "properties": {option.name: _option_schema(option) for option in options},
    }
    started = {
        "description": "The job was started.",
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"job_id": {"type": "string"}}}
            }
        },
    }
    result: dict[str, Any] = {}
    for method in methods:
        operation: dict[str, Any] = {
            "summary": task.help.split("\n", 1)[0] or f"Start the {task.name} task",
            "description": (
                f"Starts `pld {task.name}` as a background job and answers its id at once; "
                "the job's status, progress and result appear under /alive."
            ),
            "operationId": f"{task.name}_{method.lower()}",
            "parameters": [
                {"name": o.name, "in": "query", "required": False, "schema": _option_schema(o)}
                for o in options
            ],
            "responses": {"200": started},
        }
        if method != "GET":
            operation["requestBody"] = {
                "required": False,
                "content": {
                    "application/json": {"schema": body},
                    "application/x-www-form-urlencoded": {"schema": body},
                },
            }
        result[method.lower()] = operation
    return result


def _option_schema(option: Option) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _JSON_TYPES[option.kind]}
    if option.default is not None:
        schema["default"] = option.default
    if option.help:
        schema["description"] = option.help
    return schema


_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
_JOB_DOC = {
    "get": {
        "summary": "A background job's record: status, progress, result or error, runner",
        "parameters": [_JOB_ID],
        "responses": {"200": {"description": "The job."}, "404": {"description": "No such job."}},
    },
    "delete": {
        "summary": "Cancel a running job: it stops at its next stage, before it persists",
        "parameters": [_JOB_ID],
        "responses": {
            "200": {"description": "Asked to stop (cancel_requested)."},
            "404": {"description": "No such job."},
            "409": {"description": "The job has already ended."},
        },
    },
}


@hookimpl
def pld_register_routes(register: Callable[..., None]) -> None:
    register(
        "/jobs/<job_id>",
        job_view,
        methods=("GET", "DELETE"),
        decorators="jobs_decorators",
        openapi=_JOB_DOC,
    )


@hookimpl
def pld_register_commands(register: Callable[..., None], tasks: dict[str, Task]) -> None:
    for task in tasks.values():
        register(task_command(task), origin=task.plugin)


@hookimpl
def pld_register_views(register: Callable[..., None], tasks: dict[str, Task]) -> None:
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE")
    for task in tasks.values():
        register(
            task.name,
            task_view(task),
            decorators=task.http_decorators,
            summary=task.help,
            openapi=task_operations(task, methods),
            origin=task.plugin,
        )
