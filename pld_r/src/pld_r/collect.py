"""R's garbage collections between requests instead of inside them.

R collects when its heap reaches a trigger, inside whichever call allocates past it. A
randomForest ``predict`` allocates about 1 MB per call (its ``.C`` call copies the forest), so
R collects every ~60 one-row predicts and that call takes 2-5 ms longer: the slowest 1.6 % of
calls, R's own ``predict`` in a loop included. :func:`after_request`, called once a response
is sent (gunicorn's ``post_request`` hook: :mod:`pld_r.gunicorn`), runs R's collection of its
young generation there when one is due, so that it falls between requests, where another
worker answers meanwhile.

R tells nothing about its heap short of collecting, but its ``gc.time()`` moves whenever it
has collected, so "due" is learnt: the calls into R between two collections R made by itself
give the interval; a collection here comes after 3/4 of it. The interval grows by one call
after each collection here and shrinks to 3/4 when R collected by itself within it, so it
follows a model or a load that allocates more, or less.
"""

from __future__ import annotations

from typing import Any

from pld_r import session

#: The share of R's own interval after which a collection here comes first.
EARLY = 0.75


class _State:
    """Per process (a forked worker goes on from its master's, which is as good a start).

    The calls into R since R last collected are counted in ``session.calls``.
    """

    interval: int | None = None  # calls after which to collect here; None until learnt
    clock: float | None = None  # R's gc.time() (elapsed) at the last look
    counting = False  # while learning: whether the calls are counted from a collection of R's
    collected = 0  # collections made here, for tests and benchmarks


state = _State()
_functions: dict[str, Any] = {}


def after_request() -> None:
    """Between two requests: run R's young-generation collection if one is due.

    Does nothing before R has started, after no call into R, or while another thread is in
    R; looks at R's gc clock (~15 µs) once per interval, or after each request while the
    interval is not known yet.
    """
    calls = session.calls
    if not calls.count or not session.started():
        return
    if state.interval is not None and calls.count < state.interval:
        return
    lock = session.lock
    if not lock.acquire(blocking=False):
        return
    try:
        with session.rcontext():
            _look(calls)
    finally:
        lock.release()


def _look(calls: Any) -> None:
    clock = _gc_clock()
    if state.interval is None:  # learning: R's own interval, from one collection to the next
        if clock != state.clock:
            if state.counting:
                state.interval = max(1, int(calls.count * EARLY))
            state.counting = state.clock is not None  # the first look only sets the clock
            calls.count, state.clock = 0, clock
        return
    if clock != state.clock:  # R collected by itself within the interval: shorten it
        state.interval = max(1, int(state.interval * EARLY))
    else:
        _function("gc")(verbose=False, full=False)
        state.interval += 1
        state.collected += 1
        clock = _gc_clock()
    calls.count, state.clock = 0, clock


def _gc_clock() -> float:
    """Seconds R has spent collecting (elapsed); reading it turns R's gc timing on."""
    return float(_function("gc.time")()[2])


def _function(name: str) -> Any:
    found = _functions.get(name)
    if found is None:
        from rpy2 import rinterface

        found = _functions[name] = rinterface.baseenv[name]
    return found
