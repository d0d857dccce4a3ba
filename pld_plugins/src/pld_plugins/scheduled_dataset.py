"""``ScheduledDatasetLoader``: keep a dataset in memory for serving and reload it on a schedule.

Services that look data up per request (features by id, say) load it once into the process
store and refresh it by an rrule. A reload reads the new data completely before swapping it
in; if it fails, the old data keeps serving and the failure is recorded for ``/alive``.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from pld_core import DatasetLoader, decorate, process_store
from pld_plugins.persistence.schedule import RruleThread, make_rrule

logger = logging.getLogger(__name__)

#: Where Palladium's ScheduledDatasetLoader kept its data (``alive: process_store_required``).
PALLADIUM_KEY = "data"


class ScheduledDatasetLoader(DatasetLoader):
    """Serve ``impl``'s data from memory; reload it at each ``update_cache_rrule`` occurrence.

    :param impl: the dataset loader that really loads.
    :param update_cache_rrule: dateutil rrule keywords (``{'freq': 'HOURLY'}``) or an rrule.
    :param key: the process store key; default: this entry's config key, and the latest data
        is also under ``'data'``, Palladium's fixed key.
    """

    def __init__(self, impl: DatasetLoader, update_cache_rrule: Any, key: str | None = None):
        self.impl = impl
        self.rrule = make_rrule(update_cache_rrule)
        self.key = key
        self.serving = False
        self.thread: RruleThread | None = None
        self._update = self._load
        self._lock = threading.Lock()

    @property
    def cache_key(self) -> str:
        return self.key or str(getattr(self, "__pld_config_key__", None) or "data")

    def initialize_component(self, config: Any) -> None:
        """Serving: load now and start the schedule. Fitting: plain pass-through to ``impl``."""
        if config.get("__mode__") == "fit":
            return
        self.serving = True
        self._update = decorate(self._load, config, "update_data_decorators")
        self.update_cache()
        self.thread = RruleThread(self._scheduled, self.rrule, name=f"pld-data-{self.cache_key}")
        self.thread.start()

    def stop(self) -> None:
        """Stop the reload schedule."""
        if self.thread is not None:
            self.thread.stop()
            self.thread = None

    def __call__(self) -> tuple[Any, Any]:
        if not self.serving:
            return self.impl()
        try:
            data: tuple[Any, Any] = process_store[self.cache_key]
        except KeyError:
            raise LookupError(f"no data loaded into {self.cache_key!r} yet") from None
        return data

    def update_cache(self) -> tuple[Any, Any]:
        """Load the data again; the old data serves until the new is complete."""
        result: tuple[Any, Any] = self._update()
        return result

    def _scheduled(self) -> None:
        try:
            self.update_cache()
        except Exception:  # recorded by _load; the schedule goes on
            logger.debug("scheduled data reload failed", exc_info=True)

    def _load(self) -> tuple[Any, Any]:
        status = _status(self.cache_key)
        with self._lock:
            status["checked_at"] = _now()
            try:
                data = self.impl()
            except Exception as exc:
                status.update(last_error=f"{type(exc).__name__}: {exc}", last_error_at=_now())
                logger.exception("%s: reloading data failed; keeping the old data", self.cache_key)
                raise
            process_store[self.cache_key] = data
            if self.key is None:  # also under Palladium's fixed key, for process_store_required
                process_store[PALLADIUM_KEY] = data
            status["loaded_at"] = _now()
            return data


def _status(key: str) -> dict[str, Any]:
    if "process_metadata" not in process_store:
        process_store["process_metadata"] = {}
    caches = process_store["process_metadata"].setdefault("data_cache", {})
    status: dict[str, Any] = caches.setdefault(key, {})
    return status


def _now() -> str:
    return datetime.now(UTC).isoformat()
