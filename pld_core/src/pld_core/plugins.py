"""Build a fresh plugin manager from the ``pld`` entry-point group, and describe what it loaded.

Environment variables:

* ``PLD_LOAD_PLUGINS`` -- comma-separated entry-point names: load only these (empty: none).
* ``PLD_DISABLE_PLUGINS`` -- comma-separated entry-point names never to load.
"""

from __future__ import annotations

import os
from typing import Any

import pluggy

from pld_core import builtins, hookspecs
from pld_core.errors import PldError

ENTRY_POINT_GROUP = hookspecs.PROJECT
BUILTIN_PLUGIN_NAME = "pld_core.builtins"


def _names_from_env(variable: str) -> list[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def get_plugin_manager(*, load_entrypoints: bool = True) -> pluggy.PluginManager:
    """Return a new plugin manager with the core's defaults and the installed plugins.

    Each process entry (a CLI run, the WSGI app, a test) builds its own; nothing is global.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(builtins, name=BUILTIN_PLUGIN_NAME)
    for name in _names_from_env("PLD_DISABLE_PLUGINS") or []:
        pm.set_blocked(name)
    if load_entrypoints:
        _load_entrypoints(pm, _names_from_env("PLD_LOAD_PLUGINS"))
    pm.check_pending()
    return pm


def _load_entrypoints(pm: pluggy.PluginManager, only: list[str] | None) -> None:
    names: list[str | None] = [None] if only is None else list(only)
    for name in names:
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
        except Exception as exc:
            raise PldError(
                f"a plugin in entry-point group {ENTRY_POINT_GROUP!r} failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc


def describe_plugins(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Name, distribution version, hooks and registered component names of each plugin."""
    from pld_core.registry import collect_registry

    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    components = collect_registry(pm).by_plugin()
    described = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:  # blocked
            continue
        dist = dists.get(id(plugin))
        if dist is not None:
            distribution, version = dist.project_name, dist.version
        else:
            distribution, version = _own_distribution(name)
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        described.append(
            {
                "name": name,
                "distribution": distribution,
                "version": version,
                "hooks": hooks,
                "components": components.get(name, []),
            }
        )
    return described


def _own_distribution(name: str) -> tuple[str | None, str | None]:
    if name == BUILTIN_PLUGIN_NAME:
        from pld_core import __version__

        return "pld-core", __version__
    return None, None
