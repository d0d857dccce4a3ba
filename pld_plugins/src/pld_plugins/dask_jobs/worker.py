"""The dask worker's side: load the config, take the job's record over, run the task.

The worker reads the same config files as the web worker (their absolute paths are sent),
so workers must see the config and the data at those paths, and have pld installed with the
plugins the config uses. It opens the job store from the config, as the web worker did.

A job runs at most once. dask runs a task again when its worker died; the second run finds
the record already taken (``worker`` set) and marks the job ``lost`` instead of fitting
again, as a killed web worker's job is.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime
from typing import Any

from pld_core import JobStore, PldError, execute_job, load_config, run_task

__all__ = ["run_on_worker"]

logger = logging.getLogger(__name__)


def run_on_worker(files: list[str], job_id: str, task: str, options: dict[str, Any]) -> str:
    """Run job ``job_id`` (task ``task`` with ``options``) here; return how it ended.

    Errors before the record is taken over (the config does not load here) are raised: the
    web worker that submitted the job records them.
    """
    config = load_config(files, __mode__="fit")
    if config.plugins is None:  # load_config always makes a plugin manager
        raise PldError("the config has no plugin manager")
    jobs: JobStore = config.plugins.hook.pld_job_store(config=config)
    record = jobs.get(job_id)
    if record is None:
        raise PldError(
            f"job {job_id} is not in the job store {jobs!r} this worker opened: the web "
            "workers and the dask workers must share it"
        )
    if record.get("status") != "running":  # cancelled, or lost, while it waited
        return str(record.get("status"))
    where = _worker_address()
    if record.get("worker"):
        why = (
            f"its dask worker {record['worker']} ended while it ran; the scheduler started it "
            f"again on {where}, and pld does not run a job twice"
        )
        logger.warning("job %s: %s; marking it lost", job_id, why)
        jobs.update(
            job_id, {"status": "lost", "info": why, "finished": _now()}, only_if=("running",)
        )
        return "lost"
    runner = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "worker": where,
        "heartbeat": _now(),
    }
    taken = jobs.update(job_id, runner, only_if=("running",))
    if taken is None or taken.get("status") != "running":
        return str((taken or {}).get("status"))
    logger.info("job %s (%s) runs on dask worker %s", job_id, task, where)

    def job() -> Any:
        return run_task(config, task, **options)

    execute_job(jobs, taken, job)
    ended = jobs.get(job_id) or {}
    return str(ended.get("status"))


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):  # called outside a dask worker (a test, a debugger)
        return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> str:
    return datetime.now(UTC).isoformat()
