"""Names → component factories, collected from every plugin through the ``pld_register_*`` hooks.

One namespace holds every kind, so a config's ``__factory__: 'table'`` is unambiguous. A name
taken twice is an error naming both plugins, never a silent overwrite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from pld_core.errors import PluginConflictError

#: Component kind → the collection hook that registers it.
KIND_HOOKS = {
    "dataset_loader": "pld_register_dataset_loaders",
    "model": "pld_register_models",
    "persister": "pld_register_persisters",
    "predict_service": "pld_register_predict_services",
    "decorator": "pld_register_decorators",
    "component": "pld_register_components",
}


@dataclass(frozen=True)
class Entry:
    """One registered name."""

    name: str
    kind: str
    factory: Any
    plugin: str
    is_alias: bool = False


@dataclass
class Registry:
    """All component names registered by the loaded plugins."""

    entries: dict[str, Entry] = field(default_factory=dict)

    def add(
        self, kind: str, plugin: str, name: str, factory: Any, aliases: Iterable[str] = ()
    ) -> None:
        """Register ``factory`` under ``name`` and each alias; refuse names already taken."""
        if not isinstance(name, str) or not name:
            raise PluginConflictError(f"plugin {plugin!r} registered a {kind} without a name")
        for label, is_alias in [(name, False), *((alias, True) for alias in aliases)]:
            taken = self.entries.get(label)
            if taken is not None:
                raise PluginConflictError(
                    f"component name {label!r} is registered twice: as a {taken.kind} by "
                    f"plugin {taken.plugin!r} and as a {kind} by plugin {plugin!r}"
                )
            self.entries[label] = Entry(label, kind, factory, plugin, is_alias)

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


def collect_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every collection hook, one plugin at a time, so conflicts can name the culprit."""
    registry = Registry()
    for kind, hook_name in KIND_HOOKS.items():
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            register = _register_for(registry, kind, impl.plugin_name)
            impl.function(*[register for _ in impl.argnames])
    return registry


def _register_for(registry: Registry, kind: str, plugin: str) -> Callable[..., None]:
    def register(name: str, factory: Any, aliases: Iterable[str] = ()) -> None:
        registry.add(kind, plugin, name, factory, aliases)

    return register
