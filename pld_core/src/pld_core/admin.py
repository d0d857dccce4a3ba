"""``pld list`` and ``pld admin``: look at and manage the stored versions."""

from __future__ import annotations

import logging
from typing import Any

from pld_core import steps
from pld_core.config import Config
from pld_core.timing import timer

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


def upgrade(config: Config, from_version: str | None = None, to_version: str | None = None) -> str:
    """Run the persister's schema upgrade steps; return the store's schema version after it."""
    persister = config["model_persister"]
    with timer(logger, "Upgrading the model store"):
        persister.upgrade(from_version=from_version, to_version=to_version)
    return str(persister.list_properties().get("db-version", to_version or ""))


def export(config: Config, version: int | None = None, activate: bool = True) -> tuple[Any, int]:
    """Copy ``version`` (the active one if ``None``) from ``model_persister`` to
    ``model_persister_export``; return the source version and the new version there."""
    config["model_persister_export"]  # fail before reading when the target is missing
    with timer(logger, "Reading model"):
        model = steps.read_model(config, version)
    source = (getattr(model, "__metadata__", None) or {}).get("version", version)
    with timer(logger, "Writing model to model_persister_export"):
        new_version = steps.write_model(config, model, key="model_persister_export")
    if activate:
        config["model_persister_export"].activate(new_version)
    return source, new_version
