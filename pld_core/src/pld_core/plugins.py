"""Build a fresh plugin manager — the kernel's hook defaults, pld's default plugins, the
installed plugins — and describe what it loaded.

pld's own features (fit, test, the store commands, serving, streams, batch scoring, ``/alive``,
``/list``, the optional endpoints, OpenAPI, Palladium's names) are default plugins: modules under
``pld_core.default_plugins`` that implement the same hooks a third party does and import only
the public API. Environment variables:

* ``PLD_DISABLE_PLUGINS`` -- comma-separated plugin names never to load: installed plugins
  (entry-point names) and default plugins alike. The hook defaults always load.
* ``PLD_LOAD_PLUGINS`` -- comma-separated entry-point names: load only these of the installed
  plugins (empty: none). Default plugins load unless disabled.

Names are checked as the plugins load: a component, task, command, route or view that two
plugins (or a plugin and a default plugin) register stops here, before any config is read.
"""

from __future__ import annotations

import importlib
import os
from importlib import metadata
from typing import Any

import pluggy

from pld_core import hook_defaults, hookspecs
from pld_core.errors import PldError
from pld_core.registry import (
    Clashes,
    check_names,
    collect_commands,
    collect_registry,
    collect_routes,
    collect_tasks,
    collect_views,
)

ENTRY_POINT_GROUP = hookspecs.PROJECT
#: pld's own features, in the order ``pld plugins`` and ``pld --help`` show them.
DEFAULT_PLUGINS = tuple(
    f"pld_core.default_plugins.{name}"
    for name in (
        "training",
        "tasks",
        "store_admin",
        "serving",
        "stream",
        "batch",
        "status",
        "endpoints",
        "openapi",
        "page",
        "palladium",
        "info",
    )
)


def _names_from_env(variable: str) -> list[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def get_plugin_manager(
    *, load_entrypoints: bool = True, check: bool = True
) -> pluggy.PluginManager:
    """Return a new plugin manager with the defaults and (unless told not) installed plugins.

    Each process entry (a CLI run, the WSGI app, a test) builds its own; nothing is global.
    With ``check`` a name two plugins register raises :class:`PluginConflictError` here;
    without, the caller deals with clashes (the ``pld`` group, so ``pld plugins`` shows them).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(hook_defaults, name=hook_defaults.PLUGIN_NAME)
    for name in _names_from_env("PLD_DISABLE_PLUGINS") or []:
        if name != hook_defaults.PLUGIN_NAME:  # the hooks' plain defaults are not optional
            pm.set_blocked(name)
    for name in DEFAULT_PLUGINS:
        if not pm.is_blocked(name):
            pm.register(importlib.import_module(name), name=name)
    if load_entrypoints:
        _load_entrypoints(pm, _names_from_env("PLD_LOAD_PLUGINS"))
    pm.check_pending()
    if check:
        check_names(pm)
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
    """Per plugin: distribution, version, hooks, the names it registered of each kind, and
    its ``clashes`` (each ``{"kind", "name", "plugins", "message"}``): names another plugin
    registered too. Clashes are shown, not raised."""
    dists = {ep.name: ep.dist for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    clashes = Clashes(pm)
    components = collect_registry(pm, clashes).by_plugin()
    registered: dict[str, dict[str, set[str]]] = {}

    def note(plugin: str | None, kind: str, name: str) -> None:
        registered.setdefault(plugin or "", {}).setdefault(kind, set()).add(name)

    tasks = collect_tasks(pm, clashes)

    def of_task(plugin: str, name: str) -> bool:
        """A task's own command and view are listed as the task."""
        return name in tasks and tasks[name].plugin == plugin

    for task in tasks.values():
        note(task.plugin, "tasks", task.name)
    for name, command in collect_commands(pm, tasks, clashes).items():
        if not of_task(command.plugin, name):
            note(command.plugin, "commands", name)
    for route in collect_routes(pm, None, clashes):
        note(route.plugin, "routes", route.path)
    for name, view in collect_views(pm, tasks, clashes).items():
        if not of_task(view.plugin, view.name) and name == view.name:
            note(view.plugin, "views", view.name)
    clashed: dict[str, list[dict[str, Any]]] = {}
    for clash in clashes.found:
        shown = {"kind": clash.kind, "name": clash.name, "plugins": list(clash.plugins)}
        for owner in dict.fromkeys(clash.plugins):
            clashed.setdefault(owner, []).append({**shown, "message": clash.message})
            if clash.kind == "component":  # the name it lost, listed too
                components[owner] = sorted({*components.get(owner, []), clash.name})
            elif not of_task(owner, clash.name):
                note(owner, f"{clash.kind}s", clash.name)
    described = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        dist = dists.get(name)
        if dist is not None:
            distribution, version = dist.name, dist.version
        elif name.startswith("pld_core."):
            distribution, version = "pld-core", core_version()
        else:
            distribution, version = None, None
        kinds = registered.get(name, {})
        described.append(
            {
                "name": name,
                "distribution": distribution,
                "version": version,
                "default": name.startswith("pld_core."),
                "hooks": sorted(caller.name for caller in pm.get_hookcallers(plugin) or []),
                "components": components.get(name, []),
                **{kind: sorted(kinds.get(kind, ())) for kind in _KINDS},
                "clashes": clashed.get(name, []),
            }
        )
    return sorted(described, key=_order)


_KINDS = ("tasks", "commands", "routes", "views")


def _order(described: dict[str, Any]) -> tuple[int, str]:
    """The hook defaults and default plugins first, in their own order, then the rest by name."""
    name = described["name"]
    core = (hook_defaults.PLUGIN_NAME, *DEFAULT_PLUGINS)
    return (core.index(name), "") if name in core else (len(core), name)


def core_version() -> str:
    try:
        return metadata.version("pld-core")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+unknown"
