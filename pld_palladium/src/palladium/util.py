"""``palladium.util``: configuration access and the helpers Palladium users' code calls.

``initialize_config``, ``get_config``, ``process_store``/``ProcessStore``, ``Partial`` and
``RruleThread`` are pld's own; ``args_from_config``, ``apply_kwargs``, ``timer``,
``PluggableDecorator``, ``memory_usage_psutil`` and ``run_job`` keep Palladium's call
signatures on top of pld's public API.
"""

from __future__ import annotations

import functools
import inspect
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psutil

from palladium.config import PALLADIUM_CONFIG_ERROR
from pld_core import (
    ProcessStore,
    decorate,
    get_config,
    import_dotted,
    initialize_config,
    process_store,
)
from pld_core import run_job as _run_job
from pld_plugins.persistence.schedule import RruleThread as _RruleThread

__all__ = [
    "Partial",
    "PluggableDecorator",
    "ProcessStore",
    "RruleThread",
    "apply_kwargs",
    "args_from_config",
    "get_config",
    "initialize_config",
    "memory_usage_psutil",
    "process_store",
    "resolve_dotted_name",
    "run_job",
    "timer",
]


def resolve_dotted_name(dotted_name: str) -> Any:
    """The object ``pkg.mod.attr`` or ``pkg.mod:attr.sub`` names."""
    return import_dotted(dotted_name)


def Partial(func: str | Callable[..., Any], **kwargs: Any) -> Callable[..., Any]:  # noqa: N802
    """``func`` (or the dotted name of one) with ``kwargs`` filled in."""
    target = resolve_dotted_name(func) if isinstance(func, str) else func
    return functools.update_wrapper(functools.partial(target, **kwargs), target, updated=())


def apply_kwargs(func: Callable[..., Any], **kwargs: Any) -> Any:
    """Call ``func`` with those of ``kwargs`` its signature names."""
    names = inspect.signature(func).parameters
    return func(**{name: value for name, value in kwargs.items() if name in names})


def args_from_config(func: Callable[..., Any]) -> Callable[..., Any]:
    """Fill each argument a call leaves out from the config entry of the same name.

    Config values win over the function's defaults, as in Palladium.
    """
    names = list(inspect.signature(func).parameters)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        config = get_config()
        for index, name in enumerate(names):
            if index >= len(args) and name not in kwargs and name in config:
                kwargs[name] = config[name]
        try:
            inspect.getcallargs(func, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{exc.args[0]}\n{PALLADIUM_CONFIG_ERROR}") from None
        return func(*args, **kwargs)

    return wrapper


@contextmanager
def timer(
    log: Callable[[str], Any] | None = None, message: str | None = None
) -> Iterator[dict[str, float]]:
    """``log("<message>...")`` now and ``log("<message> done in X.XXX sec.")`` at the end.

    ``log`` is a function such as ``logger.info``; the yielded dict gets ``elapsed``.
    """
    if log is not None:
        log(f"{message}...")
    info: dict[str, float] = {}
    start = time.time()
    yield info
    info["elapsed"] = time.time() - start
    if log is not None:
        log(f"{message} done in {info['elapsed']:.3f} sec.")


class PluggableDecorator:
    """``PluggableDecorator('x_decorators')(func)``: ``func`` wrapped in the config's list
    ``x_decorators``, resolved on the first call (the last entry is the outermost)."""

    def __init__(self, decorator_config_name: str) -> None:
        self.decorator_config_name = decorator_config_name

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        decorated: list[Callable[..., Any]] = []

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not decorated:
                decorated.append(decorate(func, get_config(), self.decorator_config_name))
            return decorated[0](*args, **kwargs)

        return wrapper


class RruleThread(_RruleThread):
    """Calls ``func`` at each occurrence of ``rrule`` (an rrule or its keywords as a dict)."""

    def __init__(
        self, func: Callable[[], Any], rrule: Any, sleep_between_checks: float = 60
    ) -> None:
        super().__init__(func, rrule, max_sleep=sleep_between_checks)


def memory_usage_psutil() -> tuple[float, float]:
    """This process's resident and virtual memory in MB."""
    memory = psutil.Process(os.getpid()).memory_info()
    return memory.rss / 2**20, memory.vms / 2**20


def run_job(func: Callable[..., Any], **params: Any) -> tuple[Any, str]:
    """Run ``func(**params)`` in a thread, recorded under ``/alive``; ``(thread, job_id)``."""
    name = getattr(func, "__name__", "job")
    return _run_job(process_store, name, functools.partial(func, **params), params)
