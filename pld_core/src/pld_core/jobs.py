"""Background jobs for ``/fit`` and ``/update-model-cache``: start now, report under ``/alive``."""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pld_core.process_state import ProcessStore

logger = logging.getLogger(__name__)

#: Finished jobs kept for ``/alive``; older ones are dropped so the registry cannot grow forever.
MAX_FINISHED_JOBS = 100


def job_registry(store: ProcessStore) -> dict[str, dict[str, Any]]:
    """The ``jobs`` dict inside ``process_store['process_metadata']``."""
    if "process_metadata" not in store:
        store["process_metadata"] = {}
    jobs: dict[str, dict[str, Any]] = store["process_metadata"].setdefault("jobs", {})
    return jobs


_running: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "pld_running_job", default=None
)


def progress_reporter() -> Callable[..., None]:
    """``report(**progress)`` for the background job running in this thread, else a no-op.

    What it records shows under the job's ``progress`` in ``/alive`` while the job runs, e.g.
    ``report(stage="Fitting model")`` or ``report(done=4, total=9)``. Take it in the job's own
    thread; the function it returns may then be called from any thread.
    """
    record = _running.get()
    if record is None:
        return _ignore

    def report(**progress: Any) -> None:
        record["progress"] = {**record.get("progress", {}), **progress}

    return report


def _ignore(**progress: Any) -> None:
    return None


def run_job(
    store: ProcessStore, name: str, func: Callable[[], Any], params: dict[str, Any] | None = None
) -> tuple[threading.Thread, str]:
    """Run ``func()`` in a thread; its status lives in the job registry under an id.

    ``params`` are shown in the job record (only plain options: ``/alive`` is public).
    """
    jobs = job_registry(store)
    job_id = str(uuid.uuid4())
    record: dict[str, Any] = {
        "func": name,
        "started": datetime.now(UTC).isoformat(),
        "status": "running",
        "params": dict(params or {}),
    }

    def work() -> None:
        _running.set(record)
        try:
            result = func()
        except Exception as exc:
            logger.exception("job %s (%s) failed", job_id, name)
            record.update(status="error", info=f"{type(exc).__name__}: {exc}")
        else:
            record.update(status="finished", info=_describe(result))
        record["finished"] = datetime.now(UTC).isoformat()
        _prune(jobs)

    thread = threading.Thread(target=work, name=f"pld-job-{name}", daemon=False)
    record["thread"] = thread.name
    jobs[job_id] = record
    thread.start()
    return thread, job_id


def _describe(result: Any) -> Any:
    describe = getattr(result, "describe", None)
    return describe() if callable(describe) else str(result)


def _prune(jobs: dict[str, dict[str, Any]]) -> None:
    finished = [key for key, job in jobs.items() if job["status"] != "running"]
    for key in finished[:-MAX_FINISHED_JOBS]:
        jobs.pop(key, None)
