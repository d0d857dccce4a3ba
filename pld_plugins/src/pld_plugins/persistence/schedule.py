"""Run a function at the occurrences of a ``dateutil`` rrule, in a stoppable daemon thread.

Configs describe the rule as a dict of ``rrule`` keyword arguments, as in Palladium:
``{'freq': 'HOURLY'}``, ``{'freq': 'DAILY', 'byhour': 3, 'dtstart': '2024-01-01T00:00'}``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from dateutil import parser as date_parser
from dateutil import rrule as rrule_module

__all__ = ["RruleThread", "make_rrule"]

logger = logging.getLogger(__name__)

FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DATES = ("dtstart", "until")


def make_rrule(spec: Any) -> Any:
    """Return ``spec`` as an rrule: an ``rrule``/``rruleset`` as is, or a dict of arguments.

    In a dict, ``'HOURLY'``-style strings name frequencies, ``'MO'``-style strings name
    weekdays (alone or in lists), and string ``dtstart``/``until`` are parsed as dates.
    """
    if isinstance(spec, rrule_module.rrule | rrule_module.rruleset):
        return spec
    if not isinstance(spec, Mapping):
        raise TypeError(f"an rrule must be a dict of dateutil.rrule arguments, not {spec!r}")
    if "freq" not in spec:
        raise ValueError(f"an rrule needs a 'freq' such as 'HOURLY' or 'DAILY': {dict(spec)!r}")
    kwargs = {key: _convert(key, value) for key, value in spec.items()}
    try:
        return rrule_module.rrule(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid rrule {dict(spec)!r}: {exc}") from None


def _convert(key: str, value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_convert(key, item) for item in value]
    if not isinstance(value, str):
        return value
    if key in _DATES:
        return date_parser.parse(value)
    name = value.upper()
    if key == "freq":
        if name not in FREQUENCIES:
            raise ValueError(f"unknown rrule freq {value!r}; use one of {', '.join(FREQUENCIES)}")
        return getattr(rrule_module, name)
    if name in WEEKDAYS:
        return getattr(rrule_module, name)
    return value


class RruleThread(threading.Thread):
    """Calls ``func`` at each occurrence of ``rule`` until :meth:`stop` is called.

    It sleeps until the next occurrence (at most ``max_sleep`` seconds at a time, so clock
    changes are noticed) and fires once for occurrences missed while busy. Exceptions from
    ``func`` are logged and the schedule goes on.
    """

    def __init__(
        self,
        func: Callable[[], Any],
        rule: Any,
        *,
        max_sleep: float = 60.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name or f"pld-rrule-{getattr(func, '__name__', 'func')}", daemon=True)
        self.func = func
        self.rule = make_rrule(rule)
        self.max_sleep = max_sleep
        self.last_execution = self._now()
        self._stopped = threading.Event()

    def _now(self) -> datetime:
        dtstart = getattr(self.rule, "_dtstart", None)
        tzinfo = dtstart.tzinfo if isinstance(dtstart, datetime) else None
        return datetime.now(tzinfo)

    def run(self) -> None:
        while not self._stopped.is_set():
            due = self.rule.after(self.last_execution)
            if due is None:  # the rule has no occurrences left
                return
            now = self._now()
            if due > now:
                self._stopped.wait(min((due - now).total_seconds(), self.max_sleep))
                continue
            self.last_execution = now
            try:
                self.func()
            except Exception:
                logger.exception(
                    "scheduled call of %s failed", getattr(self.func, "__name__", self.func)
                )

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the schedule and wait for a running call to finish."""
        self._stopped.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
