"""Log "fits done / total" while a search runs, whatever joblib backend runs the fits.

Run as a background job (``/grid-search``), the count also shows as the job's ``progress``.

joblib calls ``Parallel.print_progress`` in the calling process each time a batch of tasks
completes: for the sequential, loky, threading and dask backends alike. scikit-learn's
``Parallel`` subclass is wrapped once: a call made while a search is tracked in that thread
remembers its tracker, and its ``print_progress`` counts the completions (and still calls
joblib's own, so ``verbose`` keeps working). Fits run in worker processes never have to report
back by themselves.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)

_lock = threading.Lock()


class FitProgress:
    """Counts completed fits and logs every 10 % of ``total`` (or every ``interval`` seconds)."""

    def __init__(self, total: int | None, interval: float = 5.0) -> None:
        from pld_core import progress_reporter

        self.report = progress_reporter()  # the job record under /alive, when run as a job
        self.total = total
        self.interval = interval
        self.done = 0
        self._seen: dict[int, int] = {}
        self._owner: int | None = None
        self._last_step = -1
        self._last_time = time.monotonic()

    def claim(self, parallel: Any) -> bool:
        """Whether ``parallel`` runs the search's fits: the first one called, and no other.

        A search calls one ``Parallel`` (maybe several times: successive halving); any other
        one in the same thread belongs to an estimator, e.g. refitting a random forest.
        """
        if self._owner is None:
            self._owner = id(parallel)
        return self._owner == id(parallel)

    def update(self, parallel: Any) -> None:
        """Account for the tasks ``parallel`` completed since the last call."""
        completed = int(getattr(parallel, "n_completed_tasks", 0))
        previous = self._seen.get(id(parallel), 0)
        if completed < previous:  # the same Parallel object started another call
            previous = 0
        self._seen[id(parallel)] = completed
        self.done += completed - previous
        self.report(done=self.done, total=self.total)
        self._maybe_log()

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if self.total:
            step = min(10, self.done * 10 // self.total)
            if step == self._last_step and now - self._last_time < self.interval:
                return
            self._last_step = step
            logger.info("%d/%d fits done", self.done, self.total)
        else:
            if now - self._last_time < self.interval:
                return
            logger.info("%d fits done", self.done)
        self._last_time = now


#: The tracker of the search running in this thread, if any.
_tracker: contextvars.ContextVar[FitProgress | None] = contextvars.ContextVar(
    "pld_fit_progress", default=None
)


@contextlib.contextmanager
def track_fits(total: int | None) -> Iterator[FitProgress]:
    """Count the fits of the scikit-learn search started in the body, in this thread.

    Only the search's own ``Parallel`` counts: the estimators' joblib calls inside a fit or
    the refit (a random forest's trees) are not fits of the search. Searches in other threads (two
    ``/grid-search`` jobs) keep their own counts.
    """
    _install()
    progress = FitProgress(total)
    token = _tracker.set(progress)
    try:
        yield progress
    finally:
        _tracker.reset(token)


def _install() -> None:
    """Wrap scikit-learn's ``Parallel`` once per process; untracked calls pass straight on."""
    from sklearn.utils.parallel import Parallel

    with _lock:
        if getattr(Parallel, "_pld_tracked", False):
            return
        original_call = Parallel.__call__
        original_progress = Parallel.print_progress

        def __call__(self: Any, iterable: Any) -> Any:
            tracker = _tracker.get()
            if tracker is None or not tracker.claim(self):
                return original_call(self, iterable)
            self._pld_progress = tracker
            token = _tracker.set(None)  # Parallel calls nested in the fits are not counted
            try:
                return original_call(self, iterable)
            finally:
                _tracker.reset(token)

        def print_progress(self: Any) -> None:
            tracker = getattr(self, "_pld_progress", None)
            if tracker is not None:
                tracker.update(self)  # from joblib's callback thread for parallel backends
            original_progress(self)

        Parallel.__call__ = __call__
        Parallel.print_progress = print_progress
        Parallel._pld_tracked = True
        _serialise_executor_start()


def _serialise_executor_start() -> None:
    """Let one thread at a time get joblib's process pool (joblib#1794, open in joblib 1.6).

    Two searches started at once in two threads (two ``/grid-search`` jobs with ``n_jobs``)
    could both ask for the pool while the first was still making it; the second got it without
    its temporary folder manager and failed with ``AttributeError: ... _temp_folder_manager``.
    Getting the pool is quick; the fits themselves still run side by side.
    """
    from joblib.executor import MemmappingExecutor

    original = MemmappingExecutor.get_memmapping_executor.__func__
    starting = threading.Lock()

    def get_memmapping_executor(cls: Any, *args: Any, **kwargs: Any) -> Any:
        with starting:
            return original(cls, *args, **kwargs)

    MemmappingExecutor.get_memmapping_executor = classmethod(get_memmapping_executor)
