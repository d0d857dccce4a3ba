"""What every production server's worker process records about itself, for ``/alive``."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from pld_core import process_store

__all__ = ["note_worker"]


def note_worker() -> None:
    """Record this worker's pid and start time under ``process_metadata.worker``, so that the
    answers of ``/alive`` tell the workers of one server apart."""
    metadata = process_store.get("process_metadata")
    if not isinstance(metadata, dict):
        metadata = process_store["process_metadata"] = {}
    metadata["worker"] = {"pid": os.getpid(), "started": datetime.now(UTC).isoformat()}
