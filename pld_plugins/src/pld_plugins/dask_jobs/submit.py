"""The web worker's side: add the job's record, submit it, watch it until a dask worker has it.

Until a worker takes the record over, this process is the job's runner: the record names it
(so a killed web worker makes a waiting job ``lost``), a watcher thread beats the heartbeat,
turns a cancel request into ``future.cancel`` and records a task that failed before it could
report (a worker that cannot load the config). Once a worker has it, the web worker lets go
(``fire_and_forget``) and closes its client: from then on it spends no CPU on the job. A
``local_cluster`` lives as long as its job, so its client is kept until the job ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

from pld_core import Config, JobStore, PldError, Task, new_job
from pld_plugins.dask_cluster import check_cluster, cluster_client, first_line
from pld_plugins.dask_jobs.worker import run_on_worker
from pld_plugins.persistence.jobs_config import STORE_SETTINGS

__all__ = ["WAITING", "submit_job"]

logger = logging.getLogger(__name__)

#: The stage a job shows until a dask worker starts it.
WAITING = "Waiting for a dask worker"
#: Seconds between two looks at a waiting job (and two heartbeats for it).
WATCH_SECONDS = 1.0


def submit_job(config: Config, task: Task, options: dict[str, Any], jobs: JobStore) -> str:
    """Record the job, submit ``task`` to the cluster, return the job id at once.

    :raises ConfigError: the ``jobs`` entry is wrong, or the job store is not shared.
    :raises PldError: the scheduler cannot be reached (nothing was recorded).
    """
    settings: dict[str, Any] = config["jobs"]
    path = config.origin.get("jobs")
    check_cluster(settings, "jobs", path, other_keys=STORE_SETTINGS)
    if not jobs.shared:
        raise config.error(
            f"jobs on a dask cluster need a job store the workers share, not {jobs!r}", "jobs"
        )
    if not config.files:
        raise config.error("jobs on a dask cluster need a config read from files", "jobs")
    files = [os.path.abspath(name) for name in config.files]
    stack = contextlib.ExitStack()
    client = stack.enter_context(cluster_client(settings, "jobs", path))
    thread = f"pld-job-{task.name}-dask"
    try:
        scheduler = str(client.scheduler.address)
        waiting = {"stage": WAITING}
        record = new_job(
            jobs, task.name, options, thread=thread, scheduler=scheduler, progress=waiting
        )
    except BaseException:
        stack.close()
        raise
    job_id = str(record["id"])
    try:
        future = client.submit(
            run_on_worker, files, job_id, task.name, options, key=f"{thread}-{job_id}", pure=False
        )
        from distributed import fire_and_forget

        fire_and_forget(future)
    except Exception as exc:
        stack.close()
        _end(jobs, job_id, "error", f"cannot submit the job to {scheduler}: {first_line(exc)}")
        raise PldError(f"cannot submit the job to the dask scheduler {scheduler}") from exc
    logger.info("job %s (%s) submitted to the dask scheduler %s", job_id, task.name, scheduler)
    keep = "local_cluster" in settings  # its workers end with the cluster: hold it to the end
    watcher = threading.Thread(
        target=_watch, args=(stack, future, jobs, job_id, keep), name=thread, daemon=True
    )
    watcher.start()
    return job_id


def _watch(
    stack: contextlib.ExitStack, future: Any, jobs: JobStore, job_id: str, keep: bool
) -> None:
    """Stand in for the job until a worker has it (or, with ``keep``, until it ends)."""
    with stack:
        while True:
            try:
                if not _look(future, jobs, job_id, keep):
                    break
            except Exception:  # the store is down for a moment: look again later
                logger.warning("job %s: the job store could not be read", job_id, exc_info=True)
            time.sleep(WATCH_SECONDS)
        if keep:  # let the task return before the cluster closes under it
            with contextlib.suppress(Exception):
                future.result(timeout=30)


def _look(future: Any, jobs: JobStore, job_id: str, keep: bool) -> bool:
    """One look at a submitted job; ``False`` once the web worker has nothing more to do."""
    done = future.done()  # first: a task that returned has already ended its record
    record = jobs.get(job_id)
    if record is None or record.get("status") != "running":
        return False
    if done:  # its task ended but the record did not: the worker failed before it could
        if future.status == "error":  # write it (the config does not load there)
            exc = future.exception()
            _end(jobs, job_id, "error", f"{type(exc).__name__}: {first_line(exc)}")
        else:  # the scheduler dropped it
            _end(jobs, job_id, "lost", f"its dask task ended as {future.status!r}")
        return False
    if record.get("worker"):  # a worker has it: it beats and reports from now on
        return keep
    if record.get("cancel_requested"):
        future.cancel(force=True)
        _end(jobs, job_id, "cancelled", f"cancelled at {WAITING!r}")
        return False
    jobs.update(job_id, {"heartbeat": _now()}, only_if=("running",))
    return True


def _end(jobs: JobStore, job_id: str, status: str, info: str) -> None:
    logger.log(logging.INFO if status == "cancelled" else logging.ERROR, "job %s: %s", job_id, info)
    jobs.update(job_id, {"status": status, "info": info, "finished": _now()}, only_if=("running",))


def _now() -> str:
    return datetime.now(UTC).isoformat()
