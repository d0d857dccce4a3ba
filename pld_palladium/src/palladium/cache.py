"""``palladium.cache``: ``diskcache``, ``picklediskcache`` and ``compute_key_attrs``."""

from __future__ import annotations

from pld_plugins.cache import compute_key_attrs, diskcache, picklediskcache

__all__ = ["compute_key_attrs", "diskcache", "picklediskcache"]
