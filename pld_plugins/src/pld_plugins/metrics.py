"""Prometheus metrics for the HTTP endpoints: how many requests, how they ended, how long.

Two config entries switch them on, through the doors pld already has: the decorator
``prometheus-metrics`` in the decorator lists of the endpoints to measure, and a ``url-rule``
serving :func:`metrics_view` at ``/metrics``::

    'predict_decorators': ['prometheus-metrics'],
    'alive_decorators': ['prometheus-metrics'],
    'metrics_rule': {'!': 'url-rule', 'rule': '/metrics', 'methods': ['GET'],
                     'view_func': 'pld_plugins.metrics.metrics_view'},

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` to a folder the workers
share: each worker then writes its counts there and ``/metrics`` sums them, whichever worker
answers the scrape (prometheus_client's multiprocess mode). The gunicorn hooks
:func:`on_starting` (empties the folder of a previous run) and :func:`child_exit` go in the
gunicorn config; examples/deploy/gunicorn.conf.py has them. prometheus_client is imported on
first use. Input values outside the range a model saw in training are counted too
(``pld_input_out_of_range_total``, by endpoint and field) whenever prometheus-client is
installed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pld_core import hookimpl

#: Latency buckets in seconds: a model service answers in milliseconds, sometimes in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

_lock = threading.Lock()


@dataclass(frozen=True)
class _Metrics:
    requests: Any
    latency: Any
    out_of_range: Any


_metrics: _Metrics | None = None


def endpoint_metrics() -> _Metrics:
    """The request counter and latency histogram of this process, created once."""
    global _metrics
    with _lock:
        if _metrics is None:
            from prometheus_client import Counter, Histogram

            _metrics = _Metrics(
                requests=Counter(
                    "pld_http_requests",
                    "HTTP requests answered, by endpoint, method and status code.",
                    ["endpoint", "method", "status"],
                ),
                latency=Histogram(
                    "pld_http_request_duration_seconds",
                    "Time to answer an HTTP request, by endpoint and method.",
                    ["endpoint", "method"],
                    buckets=BUCKETS,
                ),
                out_of_range=Counter(
                    "pld_input_out_of_range",
                    "Input values outside the range the model version saw in training, by "
                    "predict endpoint and field: answered, but a sign of drift.",
                    ["endpoint", "field"],
                ),
            )
        return _metrics


def prometheus_metrics(view: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Count and time every request ``view`` answers (a decorator for any decorator list).

    The ``endpoint`` label is the request's path: decorators wrap routed views only, so its
    values are the service's own paths, never whatever a client made up.
    """
    metrics = endpoint_metrics()
    perf_counter = time.perf_counter

    def measured(request: Any) -> Any:
        start = perf_counter()
        status = "500"
        try:
            response = view(request)
            status = str(response.status_code)
            return response
        finally:
            path, method = request.path, request.method
            metrics.requests.labels(path, method, status).inc()
            metrics.latency.labels(path, method).observe(perf_counter() - start)

    return measured


def metrics_view(request: Any, app: Any) -> Any:
    """``/metrics`` in Prometheus' text format, summed over the workers in multiprocess mode."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
    from werkzeug.wrappers import Response

    registry = REGISTRY
    if os.environ.get(MULTIPROCESS_ENV):
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def on_starting(server: Any) -> None:
    """gunicorn hook: empty ``PROMETHEUS_MULTIPROC_DIR`` of a previous run's counts."""
    clear_multiprocess_dir()


def clear_multiprocess_dir() -> None:
    """Empty ``PROMETHEUS_MULTIPROC_DIR`` (when set) of a previous run's counts: for a server's
    main process, before it starts its workers (gunicorn's on_starting, ``pld granian``)."""
    folder = os.environ.get(MULTIPROCESS_ENV)
    if folder:
        for path in Path(folder).glob("*.db"):
            path.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: tell prometheus_client a worker is gone (its live gauges go with it)."""
    if not os.environ.get(MULTIPROCESS_ENV):
        return
    try:
        from prometheus_client import multiprocess
    except ImportError:
        return
    multiprocess.mark_process_dead(worker.pid)


@hookimpl
def pld_input_out_of_range(entry_point: str | None, version: Any, counts: dict[str, int]) -> None:
    """Count input values outside the training range (pld checks every input for them)."""
    try:
        metrics = endpoint_metrics()
    except ImportError:  # prometheus-client is not installed: nothing to count into
        return
    for field, count in counts.items():
        metrics.out_of_range.labels(entry_point or "", field).inc(count)


@hookimpl
def pld_register_decorators(register: Callable[..., None]) -> None:
    """``'prometheus-metrics'`` for the decorator lists of the endpoints to measure."""
    register("prometheus-metrics", prometheus_metrics)
