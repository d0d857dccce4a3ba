"""Build a fresh plugin manager from the ``pld`` entry-point group, and describe what it loaded.

Environment variables:

* ``PLD_LOAD_PLUGINS`` -- comma-separated entry-point names: load only these (empty: none).
* ``PLD_DISABLE_PLUGINS`` -- comma-separated entry-point names never to load (the core's own
  defaults, ``pld_core.builtins``, always load).
"""

from __future__ import annotations

import os
from importlib import metadata
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
        if name != BUILTIN_PLUGIN_NAME:  # the core's defaults are not optional
            pm.set_blocked(name)
    if load_entrypoints:
        _load_entrypoints(pm, _names_from_env("PLD_LOAD_PLUGINS"))
    pm.check_pending()
    return pm


def _load_entrypoints(pm: pluggy.PluginManager, only: list[str] | None) -> None:
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if only is not None and ep.name not in only:
            continue
        if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PldError(
                f"plugin {ep.name!r}{_dist_label(ep)} failed to load: {type(exc).__name__}: {exc}"
            ) from exc
        pm.register(plugin, name=ep.name)


def _dist_label(ep: metadata.EntryPoint) -> str:
    return f" (from {ep.dist.name} {ep.dist.version})" if ep.dist else ""


def describe_plugins(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Name, distribution version, hooks, component names and tasks of each plugin."""
    from pld_core.registry import collect_registry
    from pld_core.tasks import collect_tasks

    dists = {ep.name: ep.dist for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    components = collect_registry(pm).by_plugin()
    tasks: dict[str, list[str]] = {}
    for task in collect_tasks(pm).values():
        tasks.setdefault(task.plugin or "", []).append(task.name)
    described = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:  # blocked
            continue
        dist = dists.get(name)
        if dist is not None:
            distribution, version = dist.name, dist.version
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
                "tasks": sorted(tasks.get(name, [])),
            }
        )
    return described


def _own_distribution(name: str) -> tuple[str | None, str | None]:
    if name == BUILTIN_PLUGIN_NAME:
        from pld_core import __version__

        return "pld-core", __version__
    return None, None
