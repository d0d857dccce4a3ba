"""Palladium 1.2's import names, for code written for Palladium: thin re-exports of pld.

``palladium.interfaces``, ``palladium.util``, ``palladium.config``, ``palladium.server``,
``palladium.wsgi``, ``palladium.fit``, ``palladium.eval``, ``palladium.persistence``,
``palladium.dataset`` and ``palladium.cache`` name pld's objects. What each supports, and what
it does not, is in docs/migrating-from-palladium.md.
"""

from __future__ import annotations

from pld_core import __version__

__all__ = ["__version__"]
