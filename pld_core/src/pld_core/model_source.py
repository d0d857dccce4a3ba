"""Where a predict path gets its model, decided once: the one way to get the served model.

A :class:`CachingModelPersister` (such as ``cached-update``) keeps the model in memory itself,
so each prediction asks it. Any other persister is read once, through the ``pld_read_model``
hook and ``read_model_decorators``, and the model is kept here — in the object that owns the
source (an app, a stream, a batch run), never in a process-wide store, so two apps in one
process serve their own models. ``reload()`` reads the new model completely before it swaps it
in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pld_core.config import Config
from pld_core.interfaces import CachingModelPersister
from pld_core.steps import read_model

logger = logging.getLogger(__name__)


class ModelSource:
    """``get()`` returns the model to predict with, or ``None`` when there is none yet.

    :param config: the loaded configuration.
    :param key: the config entry of the model persister.
    :param version: a stored version to use instead of the active one (``pld predict``).
    """

    def __init__(self, config: Config, key: str = "model_persister", version: int | None = None):
        self.config = config
        self.key = key
        self.version = version
        self.persister = config.get(key)
        #: When the model kept here was loaded (``None`` for a caching persister's).
        self.loaded_at: datetime | None = None
        self._model: Any = None
        self.get: Callable[[], Any]
        #: Whether the persister keeps the model (and reports it under ``/alive`` itself).
        self.caching = False
        if isinstance(self.persister, CachingModelPersister) and version is None:
            self.caching, self.get = True, self.persister.cached_model
            return
        self.get = self._kept
        if self.persister is not None:
            try:
                self.reload()
            except LookupError as exc:
                if version is not None:  # asked for a version that does not exist
                    raise
                logger.warning("no model to serve yet: %s", exc)

    def _kept(self) -> Any:
        return self._model

    def reload(self) -> Any:
        """Load the active model (or this source's version) again; the old one serves meanwhile."""
        if self.persister is None:
            raise LookupError(f"the configuration has no {self.key!r} entry")
        if self.caching:
            return self.persister.update_cache()
        model = read_model(self.config, self.version, self.key)
        self._model, self.loaded_at = model, datetime.now(UTC)
        return model
