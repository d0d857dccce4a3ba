"""Turn a name from a config into the object it means: a registered name or a dotted path."""

from __future__ import annotations

import importlib
from typing import Any

from pld_core.errors import PldError
from pld_core.registry import Registry


def import_dotted(name: str) -> Any:
    """Import ``pkg.mod.attr`` or ``pkg.mod:attr.sub`` and return the object.

    Without a colon, the longest importable module prefix is used and the rest is walked
    with ``getattr``, so ``myapp.auth.checker.check`` works whatever its split.
    """
    if ":" in name:
        module_name, _, attr_path = name.partition(":")
        candidates = [(module_name, attr_path.split(".") if attr_path else [])]
    else:
        parts = name.split(".")
        candidates = [(".".join(parts[:i]), parts[i:]) for i in range(len(parts), 0, -1)]
    missing_module: str | None = None
    for module_name, attrs in candidates:
        if not module_name:
            continue
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name) and missing_module is None:
                missing_module = exc.name
            if exc.name and not module_name.startswith(exc.name):
                raise PldError(f"importing {module_name!r} failed: {exc}") from exc
            continue
        except Exception as exc:
            raise PldError(
                f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            for attr in attrs:
                obj = getattr(obj, attr)
        except AttributeError:
            raise PldError(f"{module_name!r} has no attribute {'.'.join(attrs)!r}") from None
        return obj
    raise LookupError(missing_module or name)


def resolve_name(name: str, registry: Registry | None) -> Any:
    """Return the factory or object for ``name``: registered names first, then dotted paths."""
    entry = registry.get(name) if registry is not None else None
    if entry is not None:
        return entry.factory
    if name.startswith("palladium."):
        provider = {"palladium.R.": "pld-r", "palladium.julia.": "pld-julia"}
        dist = next((d for p, d in provider.items() if name.startswith(p)), "pld-plugins")
        raise PldError(
            f"unknown factory {name!r}: no installed plugin provides this Palladium name "
            f"(is {dist} installed?)"
        )
    if "." not in name and ":" not in name:
        known = ", ".join(registry.names(aliases=False)) if registry else ""
        raise PldError(
            f"unknown factory {name!r}: not a registered component name"
            + (f" (registered: {known})" if known else "")
        )
    try:
        return import_dotted(name)
    except LookupError as exc:
        raise PldError(f"unknown factory {name!r}: no module named {exc.args[0]!r}") from None
