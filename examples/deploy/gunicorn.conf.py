"""gunicorn settings for serving pld in production.

    PLD_CONFIG=/srv/iris/config.py gunicorn -c examples/deploy/gunicorn.conf.py pld_core.wsgi:app

Command-line options win over this file (e.g. ``--bind``, ``--workers``).
"""

import os

# With preload_app, threads started while the master loads the app (the cached-update
# persister's refresh schedule) do not survive the fork into the workers. These hooks stop
# the schedule in the master before each fork and restart it in every worker; the restart
# also loads a version activated since the master read its model (a worker replaced later
# starts from the master's copy). Keep them whenever preload_app is True.
from pld_plugins.deploy.gunicorn_hooks import post_fork, pre_fork  # noqa: F401

# Prometheus metrics (the 'prometheus-metrics' decorator and /metrics): with
# PROMETHEUS_MULTIPROC_DIR set, these empty it at start and forget workers that exit, so
# /metrics sums exactly this run's workers. Without the variable they do nothing.
from pld_plugins.metrics import child_exit, on_starting  # noqa: F401


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Behind nginx on the same machine; a container binds 0.0.0.0 (--bind on the command line).
bind = os.environ.get("PLD_BIND", "127.0.0.1:8000")

# Predictions are CPU-bound: one worker process per CPU. In a container os.cpu_count() sees
# the host's cores, not the container's CPU limit, so set WEB_CONCURRENCY there. Each worker
# holds its own copy of whatever it changes in the model's memory: mind the RAM.
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, _cpus())))
# Threads, so that a slow client cannot starve the workers: a sync worker reads a request
# until it is complete, and two clients that send half a request each would take both
# workers (for gunicorn's whole timeout). A gthread worker gives such a client one of its
# threads; the others go on answering. Threads add no prediction throughput (the GIL):
# processes do. Each worker absorbs threads - 1 stalled clients; against many of them on
# purpose, put a buffering proxy in front (examples/deploy/nginx.conf).
worker_class = "gthread"
threads = int(os.environ.get("PLD_THREADS", "8"))

# Load the config and the model once in the master, then fork: the workers start at once
# and share the model's memory pages until they write to them. An R model (pld-r) starts R
# and loads into it as it is read, so here R starts once, in the master, and every worker
# serves its first request with R ready.
preload_app = True

# A worker whose main loop is silent this long is killed and replaced. With threads, a long
# batch prediction does not count (it runs in a thread); a stuck process does.
timeout = int(os.environ.get("PLD_WORKER_TIMEOUT", "60"))
# On SIGTERM (a rolling update), finish the requests in flight for at most this long.
graceful_timeout = 30
# An idle kept-alive connection waits this long for its next request, without a thread.
keepalive = 5

# Access log to stdout, errors to stderr: let systemd, Docker or Kubernetes collect them.
accesslog = "-"
errorlog = "-"
# Trust X-Forwarded-* headers only from nginx on this machine.
forwarded_allow_ips = "127.0.0.1"
