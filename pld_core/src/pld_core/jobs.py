"""Background jobs for ``/fit`` and ``/update-model-cache``: start now, report under ``/alive``.

A job's record lives in a :class:`JobStore`. The default keeps it in this process's
``process_store`` (as Palladium did); a plugin answering the ``pld_job_store`` hook keeps it
where every worker of every instance reads it (``pld_plugins``: a database). Whatever the
store, the kernel keeps the guarantees: the runner beats a heartbeat into the record, a
record whose runner died is marked ``lost`` when anyone reads it, and a cancel request stops
the job at its next stage or progress report (:class:`JobCancelled`), before it persists.

Where a job runs is the ``pld_run_job`` hook's choice: :func:`run_job` runs it in a thread of
this process; a runner that sends it elsewhere (a dask worker) adds the record here with
:func:`new_job`, and the process that runs it keeps the same guarantees with
:func:`execute_job`.
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pld_core.errors import PldError
from pld_core.process_state import ProcessStore

logger = logging.getLogger(__name__)

#: Finished jobs kept for ``/alive``; older ones are dropped so the registry cannot grow forever.
MAX_FINISHED_JOBS = 100
#: Seconds between two heartbeats of a running job.
HEARTBEAT_SECONDS = 1.0
#: Seconds between two stored progress counts of one job (a new stage is stored at once).
PROGRESS_SECONDS = 0.5
#: A running job whose last heartbeat is older than this (seconds) has lost its runner.
LOST_AFTER_SECONDS = 30.0
#: The states of a job that has ended.
ENDED = ("finished", "error", "cancelled", "lost")

HOST = socket.gethostname()


class JobCancelled(PldError):
    """Raised inside a job at its next stage or progress report once a cancel was asked."""


class JobStore(ABC):
    """Where job records live: one JSON-able dict per job id.

    Implementations make :meth:`update` atomic (a merge under a lock or in one
    transaction), so a heartbeat, a cancel request and the job's end never overwrite each
    other. ``shared`` says whether other processes see the records.
    """

    shared: bool = False

    @abstractmethod
    def add(self, job_id: str, record: dict[str, Any]) -> None:
        """Store a new job's record."""

    @abstractmethod
    def update(
        self, job_id: str, changes: dict[str, Any], only_if: Iterable[str] | None = None
    ) -> dict[str, Any] | None:
        """Merge ``changes`` into the record, atomically; return the record after it.

        With ``only_if``, change nothing unless the record's ``status`` is one of them (and
        return the record as it is). ``None`` when there is no such job.
        """

    @abstractmethod
    def get(self, job_id: str) -> dict[str, Any] | None:
        """The record of ``job_id``, or ``None``."""

    @abstractmethod
    def records(self) -> dict[str, dict[str, Any]]:
        """The records by id, oldest first (running ones and the newest ended ones)."""


class InProcessJobs(JobStore):
    """Records in ``process_store['process_metadata']['jobs']``: this process only."""

    def __init__(self, store: ProcessStore) -> None:
        self.store = store
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "InProcessJobs()"

    def add(self, job_id: str, record: dict[str, Any]) -> None:
        with self._lock:
            jobs = job_registry(self.store)
            jobs[job_id] = record
            _prune(jobs)

    def update(
        self, job_id: str, changes: dict[str, Any], only_if: Iterable[str] | None = None
    ) -> dict[str, Any] | None:
        with self._lock:
            record = job_registry(self.store).get(job_id)
            if record is None:
                return None
            if only_if is None or record.get("status") in tuple(only_if):
                record.update(changes)
            return record

    def get(self, job_id: str) -> dict[str, Any] | None:
        return job_registry(self.store).get(job_id)

    def records(self) -> dict[str, dict[str, Any]]:
        return dict(job_registry(self.store))


def job_registry(store: ProcessStore) -> dict[str, dict[str, Any]]:
    """The ``jobs`` dict inside ``process_store['process_metadata']``."""
    if "process_metadata" not in store:
        store["process_metadata"] = {}
    jobs: dict[str, dict[str, Any]] = store["process_metadata"].setdefault("jobs", {})
    return jobs


class _Running:
    """What a job's own thread knows about it: where to report, whether to stop."""

    def __init__(self, jobs: JobStore, job_id: str, record: dict[str, Any]) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.record = record
        self.cancel = threading.Event()
        self.pushed = 0.0

    def report(self, progress: dict[str, Any]) -> None:
        merged = {**self.record.get("progress", {}), **progress}
        self.record["progress"] = merged
        now = time.monotonic()
        # A new stage is stored at once; counts (a search's fits done) at most every
        # PROGRESS_SECONDS, so a store across the network is not written per fit.
        if "stage" in progress or now - self.pushed >= PROGRESS_SECONDS:
            self.pushed = now
            current = self.jobs.update(self.job_id, {"progress": merged}, only_if=("running",))
            if current is not None and current.get("cancel_requested"):
                self.cancel.set()
        if self.cancel.is_set():
            stage = merged.get("stage")
            raise JobCancelled(f"cancelled{f' at {stage!r}' if stage else ''}")


_running: contextvars.ContextVar[_Running | None] = contextvars.ContextVar(
    "pld_running_job", default=None
)


def progress_reporter() -> Callable[..., None]:
    """``report(**progress)`` for the background job running in this thread, else a no-op.

    What it records shows under the job's ``progress`` in ``/alive`` while the job runs, e.g.
    ``report(stage="Fitting model")`` or ``report(done=4, total=9)``. Take it in the job's own
    thread; the function it returns may then be called from any thread. Once the job is
    asked to stop (``DELETE /jobs/<id>``), a report raises :class:`JobCancelled`.
    """
    running = _running.get()
    if running is None:
        return _ignore

    def report(**progress: Any) -> None:
        running.report(progress)

    return report


def _ignore(**progress: Any) -> None:
    return None


def run_job(
    store: ProcessStore,
    name: str,
    func: Callable[[], Any],
    params: dict[str, Any] | None = None,
    *,
    jobs: JobStore | None = None,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> tuple[threading.Thread, str]:
    """Run ``func()`` in a thread; its status lives in ``jobs`` (default: ``store``) by id.

    ``params`` are shown in the job record (only plain options: ``/alive`` is public).
    """
    jobs = jobs if jobs is not None else InProcessJobs(store)
    thread_name = f"pld-job-{name}"
    record = new_job(jobs, name, params, thread=thread_name)
    thread = threading.Thread(
        target=execute_job, args=(jobs, record, func, heartbeat), name=thread_name, daemon=False
    )
    thread.start()
    return thread, record["id"]


def new_job(
    jobs: JobStore,
    name: str,
    params: dict[str, Any] | None = None,
    *,
    thread: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Add a running job's record to ``jobs`` (this process as its runner); return the record.

    A runner that starts the job elsewhere (another process or machine) adds it here first,
    then the process that runs it takes it over with :func:`execute_job`. ``fields`` are
    more entries of the record (where the job was sent).
    """
    job_id = str(uuid.uuid4())
    record: dict[str, Any] = {
        "id": job_id,
        "func": name,
        "started": _now(),
        "status": "running",
        "params": dict(params or {}),
        "host": HOST,
        "pid": os.getpid(),
        "thread": thread or threading.current_thread().name,
        "heartbeat": _now(),
        **fields,
    }
    jobs.add(job_id, record)
    return record


def execute_job(
    jobs: JobStore,
    record: dict[str, Any],
    func: Callable[[], Any],
    heartbeat: float = HEARTBEAT_SECONDS,
) -> None:
    """Run ``func()`` in this thread as the running job ``record`` of ``jobs``, to its end.

    Beats the heartbeat, lets ``func`` report progress (:func:`progress_reporter`), stops it
    at a cancel request and stores how it ended. Used by :func:`run_job` and by runners
    that run a job another process added (:func:`new_job`), e.g. on a dask worker.
    """
    job_id, name = str(record["id"]), str(record.get("func"))
    running = _Running(jobs, job_id, record)
    done = threading.Event()

    def beat() -> None:
        while not done.wait(heartbeat):
            try:
                current = jobs.update(job_id, {"heartbeat": _now()}, only_if=("running",))
            except Exception:  # the store is down for a moment: beat again later
                logger.warning("job %s: the heartbeat could not be stored", job_id, exc_info=True)
                continue
            if current is not None and current.get("cancel_requested"):
                running.cancel.set()

    threading.Thread(
        target=beat, name=f"{threading.current_thread().name}-heartbeat", daemon=True
    ).start()
    token = _running.set(running)
    try:
        result = func()
    except JobCancelled as exc:
        logger.info("job %s (%s) %s", job_id, name, exc)
        end = {"status": "cancelled", "info": str(exc)}
    except Exception as exc:
        logger.exception("job %s (%s) failed", job_id, name)
        end = {"status": "error", "info": f"{type(exc).__name__}: {exc}"}
    else:
        end = {"status": "finished", "info": _describe(result)}
    finally:
        _running.reset(token)
    done.set()
    end["finished"] = _now()
    try:
        jobs.update(job_id, end)
    except Exception:
        logger.exception("job %s (%s): its end could not be stored: %s", job_id, name, end)


def cancel_job(jobs: JobStore, job_id: str) -> dict[str, Any] | None:
    """Ask a running job to stop; the record after the request, or ``None`` if unknown.

    The job stops at its next stage or progress report; a job that has ended is left as is.
    """
    check_lost(jobs, job_id)
    return jobs.update(
        job_id, {"cancel_requested": True, "cancel_requested_at": _now()}, only_if=("running",)
    )


def job_record(jobs: JobStore, job_id: str) -> dict[str, Any] | None:
    """The record of ``job_id``, marked ``lost`` first if its runner died."""
    check_lost(jobs, job_id)
    return jobs.get(job_id)


def job_records(jobs: JobStore) -> dict[str, dict[str, Any]]:
    """Every record, the ones whose runner died marked ``lost`` first."""
    records = jobs.records()
    for job_id, record in records.items():
        if record.get("status") == "running" and _lost_why(record):
            check_lost(jobs, job_id)
            records[job_id] = jobs.get(job_id) or record
    return records


def check_lost(jobs: JobStore, job_id: str, lost_after: float = LOST_AFTER_SECONDS) -> None:
    """Mark ``job_id`` lost when it claims to run but its runner is gone."""
    record = jobs.get(job_id)
    if record is None or record.get("status") != "running":
        return
    why = _lost_why(record, lost_after)
    if why:
        logger.warning("job %s: %s; marking it lost", job_id, why)
        jobs.update(
            job_id, {"status": "lost", "info": why, "finished": _now()}, only_if=("running",)
        )


def _lost_why(record: dict[str, Any], lost_after: float = LOST_AFTER_SECONDS) -> str | None:
    host, pid = record.get("host"), record.get("pid")
    if host == HOST and isinstance(pid, int) and not _alive(pid):
        return f"its runner (process {pid} on {host}) has ended"
    beat = record.get("heartbeat")
    if isinstance(beat, str):
        age = (datetime.now(UTC) - datetime.fromisoformat(beat)).total_seconds()
        if age > lost_after:
            return f"its runner ({host}:{pid}) has not beaten for {age:.0f} s"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def _describe(result: Any) -> Any:
    describe = getattr(result, "describe", None)
    return describe() if callable(describe) else str(result)


def _prune(jobs: dict[str, dict[str, Any]]) -> None:
    ended = [key for key, job in jobs.items() if job.get("status") in ENDED]
    for key in ended[:-MAX_FINISHED_JOBS]:
        jobs.pop(key, None)


def _now() -> str:
    return datetime.now(UTC).isoformat()
