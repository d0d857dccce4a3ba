"""Apply a config's decorator list (``predict_decorators``, ``fit_decorators``, ...) to a function.

Entries are registered decorator names, dotted import paths, or objects built by the config.
They apply in list order, so the last entry is the outermost wrapper. Each list is resolved
once, when the wrapped function is made, never per call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pld_core.errors import ConfigError, PldError
from pld_core.factories import resolve_name

F = TypeVar("F", bound=Callable[..., Any])


def _error(config: Any, message: str, key: str) -> ConfigError:
    make = getattr(config, "error", None)
    return make(message, key) if callable(make) else ConfigError(message, key=key)


def resolve_decorators(config: Any, list_name: str) -> list[Callable[[F], F]]:
    """Return the decorators named by ``config[list_name]`` (empty when absent)."""
    entries = config.get(list_name) or []
    if not isinstance(entries, list | tuple):
        raise _error(config, "must be a list of decorators", list_name)
    registry = getattr(config, "registry", None)
    decorators = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            try:
                entry = resolve_name(entry, registry)
            except PldError as exc:
                raise _error(config, str(exc), f"{list_name}[{index}]") from None
        if not callable(entry):
            raise _error(config, "is not callable", f"{list_name}[{index}]")
        decorators.append(entry)
    return decorators


def decorate(func: F, config: Any, list_name: str) -> F:
    """Wrap ``func`` with the decorators of ``config[list_name]``; unchanged when there are none."""
    decorators = resolve_decorators(config, list_name)
    if not decorators:
        return func
    wrapped = func
    for decorator in decorators:
        wrapped = decorator(wrapped)
    return wrapped
