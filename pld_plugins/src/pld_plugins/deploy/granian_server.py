"""``pld granian``: serve ``pld_core.wsgi:app`` with granian, set up as pld's production server.

granian (a Rust HTTP server) reads requests and writes answers outside Python, so it answers
more requests per CPU than gunicorn. Run through its own command line, what gunicorn's
settings file (``examples/deploy/gunicorn.conf.py``) does would be missing; this launcher
adds it, and reads the config once first, so a broken one is one line, not a failing start
in every worker:

- ``PROMETHEUS_MULTIPROC_DIR`` is emptied once when the server starts (gunicorn's
  ``on_starting``), so ``/metrics`` sums this run's workers only;
- each worker notes its pid under ``process_metadata.worker`` in ``/alive`` (gunicorn's
  ``post_fork``), so the workers can be told apart;
- a worker that dies is replaced, and on stop a worker that does not finish within
  ``--graceful-timeout`` is killed (granian waits forever by default, and a worker that gets
  its stop signal while still loading the app misses it).

Every worker loads the app itself (granian forks before loading it), so the ``cached-update``
persister's refresh schedule starts in each worker with no fork hooks, at the price of one
copy of the model per worker. ``kill -HUP`` on the main process replaces the workers one at
a time: a new one starts and, ``--reload-delay`` later, the old one stops. Not as gently as
gunicorn: each granian worker listens on its own ``SO_REUSEPORT`` socket and a stopping one
closes its kept-alive connections, so a few requests on their way to it fail (see
docs/deployment.md).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

import click

from pld_core import PldError, command_config, common_options
from pld_plugins.deploy.workers import note_worker
from pld_plugins.metrics import clear_multiprocess_dir

__all__ = ["granian_command", "worker_app"]

#: The WSGI application every worker serves.
TARGET = "pld_core.wsgi:app"
#: Granian loads :func:`worker_app` in each worker and calls it to get the app.
FACTORY = "pld_plugins.deploy.granian_server:worker_app"

_common_options: Callable[[Callable[..., Any]], Callable[..., Any]] = common_options


def worker_app() -> Any:
    """In a granian worker: note the worker, then load ``pld_core.wsgi:app`` (config, model,
    refresh schedule) in this process."""
    note_worker()
    module, _, name = TARGET.partition(":")
    return getattr(importlib.import_module(module), name)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _bind(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise PldError(f"--bind {value!r}: give HOST:PORT, e.g. 127.0.0.1:8000")
    return host.strip("[]"), int(port)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) < 1:
        raise PldError(f"{name}={value!r}: give a whole number of at least 1")
    return int(value)


@click.command("granian")
@_common_options
@click.option(
    "--bind",
    default=None,
    metavar="HOST:PORT",
    help="Where to listen. Default: $PLD_BIND, else 127.0.0.1:8000.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes. Default: $WEB_CONCURRENCY, else one per CPU (at least 2).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Python threads per worker that run requests. Default: $PLD_THREADS, else 32.",
)
@click.option(
    "--graceful-timeout",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Seconds a stopping worker may finish its requests before it is killed.",
)
@click.option(
    "--reload-delay",
    type=click.FloatRange(min=0),
    default=10,
    show_default=True,
    help="On SIGHUP, seconds between starting a new worker and stopping the old one it "
    "replaces: longer than the app takes to load, or no worker may be listening.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log every request to stderr.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="granian's own log level.",
)
def granian_command(
    bind: str | None,
    workers: int | None,
    threads: int | None,
    graceful_timeout: int,
    reload_delay: float,
    access_log: bool,
    log_level: str,
) -> None:
    """Serve pld_core.wsgi:app with granian (pip install "pld-plugins[serve]").

    Every worker loads the config named by PLD_CONFIG and its model. Send SIGHUP to replace
    the workers one at a time, SIGTERM to stop.
    """
    try:
        from granian.constants import Interfaces
        from granian.log import LogLevels
        from granian.server import Server
    except ImportError:
        raise PldError('granian is not installed: pip install "pld-plugins[serve]"') from None
    host, port = _bind(bind or os.environ.get("PLD_BIND") or "127.0.0.1:8000")
    workers = workers or _env_int("WEB_CONCURRENCY", max(2, _cpus()))
    threads = threads or _env_int("PLD_THREADS", 32)
    # Read the config here, in fit mode (no model loaded), so a broken one is one line now
    # instead of a failing start in every worker.
    config = command_config()
    config.require("model_persister", "the server reads the model to serve from it")
    os.environ["PLD_CONFIG"] = ",".join(config.files)  # --config too reaches the workers
    server = Server(
        FACTORY,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        factory=True,
        respawn_failed_workers=True,
        respawn_interval=reload_delay,  # granian does not wait for the new worker to be ready
        workers_kill_timeout=graceful_timeout,
        log_level=LogLevels(log_level),
        log_access=access_log,
    )
    server.on_startup(clear_multiprocess_dir)
    server.serve()
