"""Collect the HTTP routes plugins add through ``pld_register_routes``.

The server turns these into Werkzeug rules; a path registered twice is an error naming both
plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from pld_core.errors import PluginConflictError


@dataclass(frozen=True)
class Route:
    """One plugin endpoint: ``view(request, app)`` answers ``methods`` on ``path``."""

    path: str
    view: Callable[..., Any]
    methods: tuple[str, ...]
    decorators: str | None
    plugin: str


def collect_routes(pm: pluggy.PluginManager) -> list[Route]:
    """Ask every plugin for its routes, one plugin at a time so conflicts name it."""
    routes: dict[tuple[str, str], Route] = {}
    for impl in pm.hook.pld_register_routes.get_hookimpls():
        plugin = impl.plugin_name

        def register(
            path: str,
            view: Callable[..., Any],
            methods: Iterable[str] = ("GET",),
            decorators: str | None = None,
            _plugin: str = plugin,
        ) -> None:
            if not path.startswith("/"):
                raise PluginConflictError(
                    f"plugin {_plugin!r} registered route {path!r}: paths start with '/'"
                )
            route = Route(path, view, tuple(m.upper() for m in methods), decorators, _plugin)
            for method in route.methods:
                taken = routes.get((path, method))
                if taken is not None:
                    raise PluginConflictError(
                        f"route {method} {path} is registered twice: by plugin "
                        f"{taken.plugin!r} and by plugin {_plugin!r}"
                    )
                routes[(path, method)] = route

        impl.function(*[register for _ in impl.argnames])
    unique: dict[int, Route] = {id(route): route for route in routes.values()}
    return list(unique.values())
