"""The gunicorn settings of the images ``pld dockerize`` writes: ``-c python:<this module>``.

The same settings, with comments, are in ``examples/deploy/gunicorn.conf.py``: one worker
process per CPU (``WEB_CONCURRENCY`` overrides, as a container rarely gets all of the host's
cores), each with ``PLD_THREADS`` threads (8) so that a few slow clients hold threads, not
whole workers (the image has no proxy in front), the app preloaded so the model is read once,
and the fork hooks that keep the cache refreshing.
"""

from __future__ import annotations

import os

from pld_plugins.deploy.gunicorn_hooks import post_fork, pre_fork

__all__ = ["post_fork", "pre_fork"]


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


workers = int(os.environ.get("WEB_CONCURRENCY", max(2, _cpus())))
worker_class = "gthread"
threads = int(os.environ.get("PLD_THREADS", "8"))
preload_app = True
timeout = int(os.environ.get("PLD_WORKER_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
accesslog = "-"
if os.path.isdir("/dev/shm"):  # heartbeat files off the container's overlay file system
    worker_tmp_dir = "/dev/shm"
