"""Model persisters: ``file``, ``rest``, ``s3``, ``database``, ``database-clob``, ``cached-update``.

The plugin registers each under a short name and its Palladium 1.2 name. The classes live in
submodules imported on first use, so listing plugins or starting a server that does not use
the database persister never imports SQLAlchemy.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from pld_core import hookimpl
from pld_plugins.persistence._common import ModelIntegrityError

__all__ = ["LazyFactory", "ModelIntegrityError", "pld_job_store", "pld_register_persisters"]

_PERSISTERS = (
    # (name, module, class)
    ("file", "file", "File"),
    ("database", "database", "Database"),
    ("database-clob", "database", "DatabaseCLOB"),
    ("cached-update", "cached", "CachedUpdatePersister"),
    ("rest", "rest", "Rest"),
    ("s3", "s3", "S3"),
)


class LazyFactory:
    """Stands in for a class until it is called or its signature is asked for.

    ``inspect.signature`` reports the real class's signature, so the config loader checks
    arguments exactly as it would against the class.
    """

    def __init__(self, module: str, name: str) -> None:
        self.target_module = module
        self.__name__ = self.__qualname__ = name
        self._target: Any = None

    def load(self) -> Any:
        """Import and return the real class."""
        if self._target is None:
            module = importlib.import_module(self.target_module)
            self._target = getattr(module, self.__name__)
        return self._target

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.load())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<lazy {self.target_module}.{self.__name__}>"


@hookimpl
def pld_job_store(config: Any) -> Any:
    """Job records in a shared database (``jobs.py``, imported only when asked)."""
    return importlib.import_module(f"{__name__}.jobs_config").job_store_for(config)


@hookimpl
def pld_register_persisters(register: Callable[..., None]) -> None:
    for name, module, cls in _PERSISTERS:
        factory = LazyFactory(f"{__name__}.{module}", cls)
        register(name, factory, aliases=[f"palladium.persistence.{cls}"])
