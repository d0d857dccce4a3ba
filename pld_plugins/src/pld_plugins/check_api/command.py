"""The ``pld check-api`` command: options, the service to check, the summary and exit status."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click
from werkzeug.serving import WSGIRequestHandler, make_server

from pld_core import App, PldError, command_config, common_options, create_app

if TYPE_CHECKING:
    from pld_plugins.check_api.fuzz import FuzzOptions, Report

DEFAULT_EXAMPLES = 100
#: pld's own default for ``limits.max_body_bytes``; a URL's service is assumed to keep it.
DEFAULT_MAX_BODY_BYTES = 10 * 2**20


class UnusableTarget(PldError):
    """Nothing to check: no service at the URL, no OpenAPI document, no fuzzer installed."""

    exit_code = 2


@click.command("check-api")
@common_options
@click.argument("url", required=False)
@click.option(
    "--max-examples",
    type=click.IntRange(min=1),
    default=DEFAULT_EXAMPLES,
    show_default=True,
    help="Generated requests per operation for each kind (valid, malformed, non-finite).",
)
@click.option(
    "--requests",
    "total",
    type=click.IntRange(min=1),
    default=None,
    help="About this many requests in all, shared by the operations (instead of --max-examples).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Seed of the generator: the same seed sends the same requests. Default: random, printed.",
)
@click.option(
    "--endpoint",
    "endpoints",
    multiple=True,
    metavar="REGEX",
    help="Check only paths matching (repeatable).",
)
@click.option("--exclude", multiple=True, metavar="REGEX", help="Skip paths matching (repeatable).")
@click.option(
    "--malformed-only",
    is_flag=True,
    help="Send no valid requests, only malformed ones (fewer fits started on /fit; a service "
    "may still accept what its document does not allow).",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="The service's body limit; one byte more must be a 413. Default: the config's "
    "limits.max_body_bytes, for a URL pld's default (10 MiB).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
def check_api_command(url: str | None, **options: Any) -> None:
    """Fuzz a pld service from its /openapi.json; exit 1 on any 5xx, non-JSON or undocumented
    answer.

    Checks the service at URL, or serves the config (--config) on 127.0.0.1 for the run.
    Sends valid and malformed requests that schemathesis generates from the document, numbers
    that are not finite (NaN, Infinity, 1e309), JSON nested 100,000 deep and bodies over the
    size limit (which must be refused with 413). Prints a summary with the first failing
    request as a curl command.
    """
    try:
        from pld_plugins.check_api.fuzz import ServiceUnavailable, fuzz
    except ImportError as exc:  # schemathesis is an extra: pld-plugins[check-api]
        raise UnusableTarget(
            f"pld check-api needs schemathesis>=4 ({exc}): pip install 'pld-plugins[check-api]'"
        ) from None
    with _service(url) as (base, app):
        settings = _options(options, app)
        click.echo(f"pld check-api: {base}, seed {settings.seed}")
        try:
            report = fuzz(base, settings)
        except ServiceUnavailable as exc:
            raise UnusableTarget(str(exc)) from None
    click.echo(render(report))
    if report.failures:
        kinds = ", ".join(f"{kind} {len(found)}" for kind, found in report.by_kind().items())
        raise click.ClickException(
            f"{len(report.failures)} of {report.sent} requests failed the checks ({kinds})"
        )


@contextlib.contextmanager
def _service(url: str | None) -> Iterator[tuple[str, App | None]]:
    """The URL given, or the config served on 127.0.0.1 (a free port) for the run."""
    if url:
        if not url.startswith(("http://", "https://")):
            raise UnusableTarget(f"{url!r} is not an http:// or https:// URL")
        yield url.rstrip("/"), None
        return
    app = create_app(command_config(mode=None))
    with serving(app) as base:
        yield base, app


@contextlib.contextmanager
def serving(app: App) -> Iterator[str]:
    """Serve ``app`` with Werkzeug's threaded server on 127.0.0.1; yield its base URL."""

    class Quiet(WSGIRequestHandler):
        """No access log line for each of the thousands of requests."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, name="pld check-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _options(given: dict[str, Any], app: App | None) -> FuzzOptions:
    from pld_plugins.check_api.fuzz import FuzzOptions

    max_body = given["max_body_bytes"]
    if max_body is None:
        max_body = app.limits.max_body_bytes if app is not None else DEFAULT_MAX_BODY_BYTES
    seed = given["seed"] if given["seed"] is not None else random.randrange(2**32)
    return FuzzOptions(
        max_examples=given["max_examples"],
        total=given["total"],
        seed=seed,
        endpoints=tuple(given["endpoints"]),
        exclude=tuple(given["exclude"]),
        malformed_only=given["malformed_only"],
        max_body_bytes=max_body,
        timeout=given["timeout"],
    )


def render(report: Report) -> str:
    """The summary: what was sent, what came back, what failed and how to send it again."""
    statuses = ", ".join(f"{status} ×{n}" for status, n in sorted(report.statuses.items()))
    lines = [
        f"  {_count(len(report.operations), 'operation')}, "
        f"{_count(report.sent, 'request')} in {report.seconds:.1f} s",
        "  sent: " + ", ".join(f"{kind} {n}" for kind, n in report.kinds_sent.items()),
        f"  answers: {statuses or 'none'}",
    ]
    lines += [f"  note: {note}" for note in report.notes]
    lines += [f"  no {probe} request fits: {', '.join(ops)}" for probe, ops in report.unfit.items()]
    if not report.failures:
        lines.append("  no failures: no 5xx, every answer JSON and as documented")
        return "\n".join(lines)
    lines.append(f"  FAILED: {_count(len(report.failures), 'request')}")
    for kind, found in report.by_kind().items():
        where = sorted({f"{failure.operation} ({failure.probe})" for failure in found})
        lines.append(f"    {kind}: {len(found)} — {', '.join(where)}")
    first = report.failures[0]
    lines.append(f"  first failure ({', '.join(first.kinds)}): {first.operation}, {first.probe}")
    lines.append(f"    {first.detail}")
    if first.curl:
        lines.append(f"    {first.curl}")
    return "\n".join(lines)


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"
