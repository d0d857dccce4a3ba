"""What every pld persister shares: the store layout version, JSON metadata, messages.

The model bytes, their digest and their signature are the kernel's (``pld_core.ModelStore``):
pld's persisters store bytes and never unpickle, so every check happens before unpickling.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pld_core import SIGNING_KEY_VARIABLE, ModelIntegrityError, json_default, to_version

__all__ = ["SIGNING_KEY_VARIABLE", "ModelIntegrityError"]

#: The store layout version written to the ``db-version`` property: Palladium's 1.0 layout.
FORMAT_VERSION = "1.0"

ACTIVE = "active-model"
LAST_VERSION = "last-version"
DB_VERSION = "db-version"


def as_version(value: Any) -> int:
    """Return ``value`` as a version number (``pld_core.to_version``); anything else, an
    out-of-range number included, names no model, and never reaches the store."""
    try:
        return to_version(value)
    except ValueError:
        raise LookupError(f"No model with version {value!r}") from None


def no_such_version(version: Any, where: str) -> LookupError:
    return LookupError(f"No model with version {version} in {where}")


def no_active_model(where: str) -> LookupError:
    return LookupError(f"No active model in {where}")


def to_json(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, default=json_default, indent=indent)


def jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON: plain lists, dicts, numbers and strings."""
    return json.loads(to_json(value))


def parse_version(value: str | None) -> tuple[int, ...]:
    """``'1.2.4'`` → ``(1, 2, 4)``; ``None`` or text without digits sorts before everything."""
    return tuple(int(part) for part in re.findall(r"\d+", value or ""))


def needs_step(step: str, from_version: str | None, to_version: str | None) -> bool:
    """Whether an upgrade from ``from_version`` to ``to_version`` passes schema ``step``."""
    target = parse_version(to_version or FORMAT_VERSION)
    return parse_version(from_version) < parse_version(step) <= target
