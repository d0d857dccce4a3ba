"""gunicorn server hooks that keep pld's model cache refreshing when gunicorn preloads the app.

With ``preload_app = True`` the gunicorn master imports ``pld_core.wsgi`` (config, model, and
the ``cached-update`` persister's refresh thread) and then forks the workers, which share the
loaded model. Threads do not survive ``fork``: the refresh schedule would keep running in the
master, which answers no request, and never in a worker. So ``pre_fork`` stops it in the
master (no load is then half-way through, holding a lock, at the fork) and ``post_fork``
starts it again in each new worker, which at once loads a version activated since the master
loaded its model. Without preloading there is nothing to do: each worker loads its own app.

A caching component is any config entry with ``update_cache``, ``stop`` and
``initialize_component``, such as the ``cached-update`` persister.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from pld_plugins.deploy.workers import note_worker

__all__ = ["caching_components", "post_fork", "pre_fork"]


def caching_components(config: Any) -> list[Any]:
    """The config's entries (also inside lists and dicts) that keep a refreshed cache."""
    found: list[Any] = []
    for value in _walk(config, set()):
        if all(callable(getattr(value, n, None)) for n in _CACHING) and value not in found:
            found.append(value)
    return found


_CACHING = ("update_cache", "stop", "initialize_component")


def _walk(value: Any, seen: set[int]) -> Iterator[Any]:
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item, seen)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk(item, seen)
    else:
        yield value


def _preloaded_config(server: Any) -> Any:
    """The config of the app the master preloaded, or ``None`` without ``preload_app``."""
    app = getattr(getattr(server, "app", None), "callable", None)
    return getattr(app, "config", None)


def pre_fork(server: Any, worker: Any) -> None:
    """In the master, before each fork: stop refresh schedules there."""
    config = _preloaded_config(server)
    if config is None:
        return
    for component in caching_components(config):
        component.stop()


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker: note its pid for ``/alive`` and restart the refresh schedules."""
    note_worker()
    config = _preloaded_config(server)
    if config is None:
        return
    for component in caching_components(config):
        try:
            component.initialize_component(config)
        except Exception:  # the worker still serves the preloaded model; say why it may go stale
            server.log.exception(
                "worker %s: could not restart the cache of %r", os.getpid(), component
            )
