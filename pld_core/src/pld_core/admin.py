"""``pld list`` and ``pld admin``: look at and manage the stored versions."""

from __future__ import annotations

import logging
from typing import Any

from pld_core.config import Config

logger = logging.getLogger(__name__)


def list_models(config: Config) -> dict[str, Any]:
    """The persister's models (metadata, oldest first) and its properties."""
    persister = config["model_persister"]
    return {"models": persister.list_models(), "properties": persister.list_properties()}


def activate(config: Config, version: int) -> None:
    """Make ``version`` the active model; :class:`LookupError` when it does not exist."""
    config["model_persister"].activate(version)
    logger.info("Activated model with version %s", version)


def delete(config: Config, version: int) -> None:
    """Delete ``version``; :class:`LookupError` when it does not exist."""
    config["model_persister"].delete(version)
    logger.info("Deleted model with version %s", version)
