"""Log "fits done / total" while a search runs, whatever joblib backend runs the fits.

joblib calls ``Parallel.print_progress`` in the calling process each time a batch of tasks
completes: for the sequential, loky, threading and dask backends alike. While a search runs,
scikit-learn's ``Parallel`` subclass gets a ``print_progress`` that counts those completions
(and still calls joblib's own, so ``verbose`` keeps working). Fits run in worker processes
never have to report back by themselves.
"""

from __future__ import annotations

import contextlib
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
        self.total = total
        self.interval = interval
        self.done = 0
        self._seen: dict[int, int] = {}
        self._last_step = -1
        self._last_time = time.monotonic()

    def update(self, parallel: Any) -> None:
        """Account for the tasks ``parallel`` completed since the last call."""
        completed = int(getattr(parallel, "n_completed_tasks", 0))
        previous = self._seen.get(id(parallel), 0)
        if completed < previous:  # the same Parallel object started another call
            previous = 0
        self._seen[id(parallel)] = completed
        self.done += completed - previous
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


@contextlib.contextmanager
def track_fits(total: int | None) -> Iterator[FitProgress]:
    """Count the fits of scikit-learn searches started in the body."""
    from sklearn.utils.parallel import Parallel

    progress = FitProgress(total)
    with _lock:
        had_own = "print_progress" in Parallel.__dict__
        original = Parallel.print_progress

        def print_progress(self: Any) -> None:
            progress.update(self)
            original(self)

        Parallel.print_progress = print_progress
    try:
        yield progress
    finally:
        with _lock:
            if had_own:
                Parallel.print_progress = original
            else:
                del Parallel.print_progress
