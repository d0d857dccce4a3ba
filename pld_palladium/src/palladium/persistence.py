"""``palladium.persistence``: the model persisters, imported when first named.

``File``, ``Rest``, ``S3``, ``Database``, ``DatabaseCLOB`` and ``CachedUpdatePersister`` are
pld-plugins' persisters; ``import palladium.persistence`` alone imports none of them (so no
SQLAlchemy until ``Database`` is used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pld_plugins.persistence.cached import CachedUpdatePersister
    from pld_plugins.persistence.database import Database, DatabaseCLOB
    from pld_plugins.persistence.file import File
    from pld_plugins.persistence.rest import Rest
    from pld_plugins.persistence.s3 import S3

__all__ = ["CachedUpdatePersister", "Database", "DatabaseCLOB", "File", "Rest", "S3"]

_WHERE = {
    "File": "file",
    "Rest": "rest",
    "S3": "s3",
    "Database": "database",
    "DatabaseCLOB": "database",
    "CachedUpdatePersister": "cached",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"pld_plugins.persistence.{module}"), name)
