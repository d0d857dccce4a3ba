"""Where the server gets the model for each prediction, decided once at start-up.

A caching persister (one with ``update_cache``, such as ``cached-update``) keeps the model in
memory itself, so each request just reads it. Any other persister is read once here and the
model kept in ``process_store`` under the persister's config key; ``reload()`` (the
``/update-model-cache`` endpoint) reads it again, completely, before swapping it in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pld_core.config import Config
from pld_core.store import process_store

logger = logging.getLogger(__name__)


class ModelSource:
    """``get()`` returns the model to serve, or ``None`` when there is none yet."""

    def __init__(self, config: Config, key: str = "model_persister"):
        self.config = config
        self.config_key = key
        self.persister = config.get(key)
        self.key = str(getattr(self.persister, "__pld_config_key__", None) or key)
        self.get: Callable[[], Any]
        if self.persister is None:
            self.get = lambda: None
        elif isinstance(getattr(self.persister, "cache_key", None), str):
            # A caching persister that keeps its model in the process store: read it there.
            self.key = self.persister.cache_key
            self.get = self._from_store
        elif callable(getattr(self.persister, "update_cache", None)):
            self.get = self._from_caching_persister
        else:
            self.get = self._from_store
            try:
                self.reload()
            except LookupError as exc:
                logger.warning("no model to serve yet: %s", exc)

    def _from_caching_persister(self) -> Any:
        try:
            return self.persister.read()
        except LookupError:
            return None

    def _from_store(self) -> Any:
        return process_store.get(self.key)

    def reload(self) -> Any:
        """Load the active model again; the old one serves until the new one is ready."""
        if self.persister is None:
            raise LookupError("the configuration has no model persister")
        update_cache = getattr(self.persister, "update_cache", None)
        if callable(update_cache):
            return update_cache()
        from pld_core.steps import read_model

        model = read_model(self.config, None, self.config_key)
        process_store[self.key] = model
        return model
