"""What plugins register: component names, tasks, commands, HTTP routes and mountable views.

Every collection hook is called once, through pluggy and with keywords
(``pm.hook.pld_register_x(register=...)``), so hook wrappers and call monitoring see it like any
other call. pld owns the names: a name (or route path) that a second plugin registers is a
:class:`PluginConflictError` naming both plugins, never a silent overwrite. Which plugin is
calling ``register`` is told from the call stack: the hook implementation's own code.

:func:`check_names` collects every name once, when plugins load, so a clash stops any use of
the plugins before a config or a model is read. Given a :class:`Clashes`, the collectors note
clashes instead of raising them (``pld plugins`` shows them); the plugin registered first keeps
the name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from types import CodeType, FrameType
from typing import Any, Protocol

import click
import pluggy

from pld_core.errors import PluginConflictError
from pld_core.tasks import Task

#: Component kind → the collection hook that registers it.
KIND_HOOKS = {
    "dataset_loader": "pld_register_dataset_loaders",
    "model": "pld_register_models",
    "persister": "pld_register_persisters",
    "predict_service": "pld_register_predict_services",
    "decorator": "pld_register_decorators",
    "component": "pld_register_components",
}
UNKNOWN_PLUGIN = "an unidentified plugin"


def call_collection_hook(
    pm: pluggy.PluginManager,
    hook_name: str,
    add: Callable[..., None],
    extra: Callable[[Callable[..., None]], dict[str, Any]] | None = None,
) -> None:
    """Call ``hook_name`` once with ``register``; each call reaches ``add(plugin, *args)``.

    ``extra(register)`` gives further keyword arguments built on the same ``register``.
    """
    hook = getattr(pm.hook, hook_name)
    owners: dict[CodeType | None, list[tuple[Any, str]]] = {}
    for impl in hook.get_hookimpls():
        owner = getattr(impl.function, "__self__", None)  # two instances of one class
        owners.setdefault(_code_of(impl.function), []).append((owner, impl.plugin_name))

    def register(*args: Any, **kwargs: Any) -> None:
        add(_calling_plugin(owners), *args, **kwargs)

    hook(register=register, **(extra(register) if extra else {}))


def _code_of(function: Callable[..., Any]) -> CodeType | None:
    return getattr(function, "__code__", None)


def _calling_plugin(owners: dict[CodeType | None, list[tuple[Any, str]]]) -> str:
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        candidates = owners.get(frame.f_code)
        if candidates:
            if len(candidates) == 1:
                return candidates[0][1]
            caller = frame.f_locals.get("self")
            for owner, plugin in candidates:
                if owner is caller:
                    return plugin
        frame = frame.f_back
    return UNKNOWN_PLUGIN


# -- clashes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clash:
    """One name registered twice.

    :ivar kind: ``component``, ``task``, ``command``, ``route`` or ``view``.
    :ivar name: the name (a route's path).
    :ivar plugins: the two plugins, in the order their ``register`` calls came (pluggy
        calls the plugin registered last first).
    :ivar message: the error pld raises for it.
    """

    kind: str
    name: str
    plugins: tuple[str, str]
    message: str


class Clashes:
    """Notes clashes instead of raising them; of two claims the plugin registered first wins.

    For what must run although plugins clash: ``pld plugins`` shows them, and the ``pld``
    group can still offer its commands.
    """

    def __init__(self, pm: pluggy.PluginManager):
        self.found: list[Clash] = []
        self._rank = {name: rank for rank, (name, _plugin) in enumerate(pm.list_name_plugin())}

    def note(self, clash: Clash) -> None:
        if clash not in self.found:
            self.found.append(clash)

    def replaces(self, taken: str, new: str) -> bool:
        """Whether the claim of ``new`` keeps the name instead of the earlier claim's."""
        last = len(self._rank)
        return self._rank.get(new, last) < self._rank.get(taken, last)


def _clash(clashes: Clashes | None, clash: Clash) -> None:
    """Raise ``clash``, or note it when ``clashes`` collects them."""
    if clashes is None:
        raise PluginConflictError(clash.message)
    clashes.note(clash)


def describe_clashes(found: list[Clash]) -> str:
    """One line for the first clash, counting the others."""
    more = len(found) - 1
    tail = f" (and {more} more name clash{'es' if more > 1 else ''})" if more else ""
    return f"{found[0].message}{tail}; disable one of the plugins with PLD_DISABLE_PLUGINS"


# -- component names -------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One registered component name."""

    name: str
    kind: str
    factory: Any
    plugin: str
    is_alias: bool = False


@dataclass
class Registry:
    """All component names registered by the loaded plugins, in one namespace."""

    entries: dict[str, Entry] = field(default_factory=dict)
    clashes: Clashes | None = None

    def add(
        self, kind: str, plugin: str, name: str, factory: Any, aliases: Iterable[str] = ()
    ) -> None:
        """Register ``factory`` under ``name`` and each alias; refuse names already taken."""
        if not isinstance(name, str) or not name:
            raise PluginConflictError(f"plugin {plugin!r} registered a {kind} without a name")
        for label, is_alias in [(name, False), *((alias, True) for alias in aliases)]:
            entry = Entry(label, kind, factory, plugin, is_alias)
            taken = self.entries.get(label)
            if taken is not None:
                message = (
                    f"component name {label!r} is registered twice: as a {taken.kind} by "
                    f"plugin {taken.plugin!r} and as a {kind} by plugin {plugin!r}"
                )
                _clash(self.clashes, Clash("component", label, (taken.plugin, plugin), message))
                if self.clashes is None or not self.clashes.replaces(taken.plugin, plugin):
                    continue
            self.entries[label] = entry

    def get(self, name: str) -> Entry | None:
        """Return the entry registered under ``name``, if any."""
        return self.entries.get(name)

    def names(self, kind: str | None = None, *, aliases: bool = True) -> list[str]:
        """Sorted registered names, optionally of one kind and without aliases."""
        return sorted(
            entry.name
            for entry in self.entries.values()
            if (kind is None or entry.kind == kind) and (aliases or not entry.is_alias)
        )

    def by_plugin(self) -> dict[str, list[str]]:
        """Plugin name → the names it registered (aliases included), for ``pld plugins``."""
        result: dict[str, list[str]] = {}
        for entry in self.entries.values():
            result.setdefault(entry.plugin, []).append(entry.name)
        return {plugin: sorted(names) for plugin, names in result.items()}


def collect_registry(pm: pluggy.PluginManager, clashes: Clashes | None = None) -> Registry:
    """The component names of every plugin in ``pm``."""
    registry = Registry(clashes=clashes)
    for kind, hook_name in KIND_HOOKS.items():

        def add(plugin: str, name: str, factory: Any, aliases: Iterable[str] = ()) -> None:
            registry.add(kind, plugin, name, factory, aliases)  # noqa: B023 -- called at once

        call_collection_hook(pm, hook_name, add)
    return registry


# -- tasks and commands ---------------------------------------------------------------------


class _Claim(Protocol):
    @property
    def plugin(self) -> str | None: ...


def _claim(
    table: dict[str, Any],
    label: str,
    entry: _Claim,
    what: str,
    clashes: Clashes | None,
    message: str | None = None,
) -> None:
    """Put ``entry`` under ``label``; a label taken before names both plugins."""
    taken = table.get(label)
    if taken is None:
        table[label] = entry
        return
    message = message or (
        f"{what} {label!r} is registered twice: by plugin {taken.plugin!r} "
        f"and by plugin {entry.plugin!r}"
    )
    plugins = (taken.plugin or UNKNOWN_PLUGIN, entry.plugin or UNKNOWN_PLUGIN)
    _clash(clashes, Clash(what, label, plugins, message))
    if clashes is not None and clashes.replaces(*plugins):
        table[label] = entry


def collect_tasks(pm: pluggy.PluginManager, clashes: Clashes | None = None) -> dict[str, Task]:
    """Task name → task, each marked with the plugin that registered it."""
    tasks: dict[str, Task] = {}

    def add(plugin: str, task: Task) -> None:
        if not isinstance(task, Task):
            raise PluginConflictError(
                f"plugin {plugin!r} registered {task!r}: register() takes a pld Task"
            )
        _claim(tasks, task.name, replace(task, plugin=plugin), "task", clashes)

    call_collection_hook(pm, "pld_register_tasks", add)
    return tasks


@dataclass(frozen=True)
class Command:
    """A ``pld`` sub-command and the plugin it comes from.

    :ivar despite_clashes: it runs although plugins clash (``pld plugins``, to show them).
    """

    command: click.Command
    plugin: str
    despite_clashes: bool = False


class _CollectingGroup(click.Group):
    """The ``cli`` a ``pld_register_commands`` implementation receives: adding registers."""

    def __init__(self, register: Callable[..., None]):
        super().__init__("pld")
        self._register = register

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        self._register(cmd, name)


def collect_commands(
    pm: pluggy.PluginManager,
    tasks: dict[str, Task] | None = None,
    clashes: Clashes | None = None,
) -> dict[str, Command]:
    """Command name → command; a name used twice names both plugins.

    ``tasks`` reach the hook's opt-in ``tasks`` argument (pld's ``tasks`` plugin makes their
    commands); by default they are collected from ``pm``.
    """
    commands: dict[str, Command] = {}

    def add(
        plugin: str,
        command: click.Command,
        name: str | None = None,
        origin: str | None = None,
        *,
        despite_clashes: bool = False,
    ) -> None:
        label = name or command.name
        if not label:
            raise PluginConflictError(f"plugin {plugin!r} registered a command without a name")
        entry = Command(command, origin or plugin, despite_clashes)
        _claim(commands, label, entry, "command", clashes)

    def extra(register: Callable[..., None]) -> dict[str, Any]:
        known = collect_tasks(pm, clashes) if tasks is None else tasks
        return {"cli": _CollectingGroup(register), "tasks": known}

    call_collection_hook(pm, "pld_register_commands", add, extra)
    return commands


# -- HTTP routes and views -------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """An endpoint: ``view(request, app)`` answers ``methods`` on ``path``."""

    path: str
    view: Callable[..., Any]
    methods: tuple[str, ...]
    decorators: str | None
    plugin: str
    openapi: dict[str, Any] | None = None
    owner: str = ""  # who it is for, in messages: "plugin 'x'", "url-rule '/fit'"
    summary: str = ""


def collect_routes(
    pm: pluggy.PluginManager, app: Any = None, clashes: Clashes | None = None
) -> list[Route]:
    """Every route for ``app`` (``None``: only listing them, no app needed); a path registered
    twice, whatever the methods, names both owners: one path has one owner."""
    routes: dict[str, Route] = {}

    def add(
        plugin: str,
        path: str,
        view: Callable[..., Any],
        methods: Iterable[str] = ("GET",),
        decorators: str | None = None,
        openapi: dict[str, Any] | None = None,
        origin: str | None = None,
        summary: str = "",
    ) -> None:
        if not isinstance(path, str) or not path.startswith("/"):
            raise PluginConflictError(
                f"plugin {plugin!r} registered route {path!r}: paths start with '/'"
            )
        verbs = tuple(m.upper() for m in methods)
        owner = origin or f"plugin {plugin!r}"
        route = Route(path, view, verbs, decorators, plugin, openapi, owner, summary)
        taken = routes.get(path)
        message = None if taken is None else _route_clash(taken, route)
        _claim(routes, path, route, "route", clashes, message)

    call_collection_hook(pm, "pld_register_routes", add, lambda _register: {"app": app})
    return list(routes.values())


def _route_clash(taken: Route, route: Route) -> str:
    """``route GET /x is registered twice: ...``, or both methods when they differ."""
    shared = [method for method in route.methods if method in taken.methods]
    if shared:
        return (
            f"route {' '.join(shared)} {route.path} is registered twice: by {taken.owner} "
            f"and by {route.owner}"
        )
    return (
        f"route {route.path} is registered twice: by {taken.owner} ({', '.join(taken.methods)}) "
        f"and by {route.owner} ({', '.join(route.methods)}); one path has one owner"
    )


@dataclass(frozen=True)
class View:
    """A view a config's ``url-rule`` mounts by name (``view_func: 'activate'``)."""

    name: str
    view: Callable[..., Any]
    decorators: str | None
    summary: str
    plugin: str
    openapi: dict[str, Any] | None = None


def collect_views(
    pm: pluggy.PluginManager,
    tasks: dict[str, Task] | None = None,
    clashes: Clashes | None = None,
) -> dict[str, View]:
    """View name (and alias) → view; a name used twice names both plugins."""
    views: dict[str, View] = {}

    def add(
        plugin: str,
        name: str,
        view: Callable[..., Any],
        *,
        aliases: Iterable[str] = (),
        decorators: str | None = None,
        summary: str = "",
        openapi: dict[str, Any] | None = None,
        origin: str | None = None,
    ) -> None:
        entry = View(name, view, decorators, summary, origin or plugin, openapi)
        for label in (name, *aliases):
            _claim(views, label, entry, "view", clashes)

    def extra(_register: Callable[..., None]) -> dict[str, Any]:
        return {"tasks": collect_tasks(pm, clashes) if tasks is None else tasks}

    call_collection_hook(pm, "pld_register_views", add, extra)
    return views


# -- all names at once -----------------------------------------------------------------------


def find_clashes(pm: pluggy.PluginManager) -> list[Clash]:
    """Every name registered twice by the plugins in ``pm``: components, tasks, commands,
    routes (those registered without an app) and views."""
    clashes = Clashes(pm)
    collect_registry(pm, clashes)
    tasks = collect_tasks(pm, clashes)
    collect_commands(pm, tasks, clashes)
    collect_routes(pm, None, clashes)
    collect_views(pm, tasks, clashes)
    return clashes.found


def check_names(pm: pluggy.PluginManager) -> None:
    """Raise :class:`PluginConflictError` for the first name two plugins registered."""
    found = find_clashes(pm)
    if found:
        raise PluginConflictError(describe_clashes(found))
