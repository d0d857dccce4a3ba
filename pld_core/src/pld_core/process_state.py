"""Palladium's ``process_store``: what components keep in memory for the whole process.

Caching components (the ``cached-update`` persister, the ``scheduled`` dataset loader) and the
background jobs keep their state here, as in Palladium; each entry remembers when it was last
set, which ``/alive`` reports. The model an app serves is not kept here: it belongs to the app.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class ProcessStore(dict[str, Any]):
    """A dict that records the UTC time each key was last set in ``mtime``."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()
        self.mtime: dict[str, datetime] = {}
        self.update(*args, **kwargs)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.mtime[key] = datetime.now(UTC)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.mtime.pop(key, None)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        super().clear()
        self.mtime.clear()


process_store = ProcessStore(process_metadata={})
