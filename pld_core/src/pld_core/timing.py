"""Log how long a step takes: ``with timer(logger, "Fitting model"): ...``."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pld_core.jobs import progress_reporter


@contextmanager
def timer(log: logging.Logger, message: str) -> Iterator[dict[str, float]]:
    """Log ``message...`` now and ``message done in X.XXX s`` at the end; yield the timing.

    Inside a background job (``/fit``...), ``message`` also becomes the job's current stage.
    """
    log.info("%s...", message)
    progress_reporter()(stage=message)
    timing: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield timing
    except BaseException:
        log.info("%s failed after %.3f s", message, time.perf_counter() - start)
        raise
    timing["elapsed"] = time.perf_counter() - start
    log.info("%s done in %.3f s", message, timing["elapsed"])
