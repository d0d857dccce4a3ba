"""``palladium.dataset``: the dataset loaders (``CSV``, ``Table``, ``SQL``, ``EmptyDatasetLoader``,
``ScheduledDatasetLoader``). ``OpenML`` is not provided: it downloads data at run time."""

from __future__ import annotations

from pld_plugins.dataset import CSV, SQL, EmptyDatasetLoader, Table
from pld_plugins.scheduled_dataset import ScheduledDatasetLoader

__all__ = ["CSV", "SQL", "EmptyDatasetLoader", "ScheduledDatasetLoader", "Table"]
