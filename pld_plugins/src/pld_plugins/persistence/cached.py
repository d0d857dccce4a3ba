"""``CachedUpdatePersister``: serve the active model from memory and reload it on a schedule.

When serving, the model lives in ``process_store[<config key>]`` (``'model_persister'`` for
the usual entry), so ``/alive`` can report it. Reloading loads the new model completely
before swapping it in; a failed load keeps serving the old one.

``update_cache`` returns the newly loaded model, or ``None`` when the active version has not
changed. When loading fails it logs the error, records it in
``process_store['process_metadata']['model_cache'][<config key>]`` and re-raises, so the
``/update-model-cache`` job and the caller see the failure; the schedule carries on.
"""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from pld_core import (
    CachingModelPersister,
    ConfigError,
    ModelPersister,
    ProcessStore,
    decorate,
    process_store,
    require_verified,
)
from pld_plugins.persistence._common import as_version
from pld_plugins.persistence.schedule import RruleThread, make_rrule
from pld_plugins.persistence.warmup import WarmUp, WarmUpError

__all__ = ["CachedUpdatePersister"]

logger = logging.getLogger(__name__)

DEFAULT_KEY = "model_persister"


class CachedUpdatePersister(CachingModelPersister):
    """Wrap ``impl``; in serving mode ``read()`` answers from the in-memory cache.

    :param impl: the persister that stores the models.
    :param update_cache_rrule: when to reload, as a dict of ``dateutil.rrule`` arguments
        (``{'freq': 'HOURLY'}``) or an rrule; ``None`` loads once at start-up.
    :param check_version: skip reloading while the active version is the cached one.
    :param warm_up: before a version is served, predict sample rows with it: ``True`` (or
        ``'test'``) takes them from ``dataset_loader_test``, a path reads a JSON list of
        records; a version whose warm-up fails is not served (the old one keeps serving and
        ``/alive`` shows why under ``model_cache``). ``None``: no warm-up.
    :param warm_up_rows: how many sample rows the warm-up predicts.
    """

    __pld_config_key__ = DEFAULT_KEY

    def __init__(
        self,
        impl: ModelPersister,
        update_cache_rrule: Any = None,
        check_version: bool = True,
        warm_up: Any = None,
        warm_up_rows: int = 10,
    ) -> None:
        self.impl = impl
        self.warm_up = warm_up
        self.warm_up_rows = warm_up_rows
        self._warm_up: WarmUp | None = None
        self.update_cache_rrule = update_cache_rrule
        self.rrule = make_rrule(update_cache_rrule) if update_cache_rrule is not None else None
        self.check_version = check_version
        self.use_cache = False
        self.thread: RruleThread | None = None
        self.loaded_version: int | None = None
        self._update = self._load  # initialize_component wraps it in update_model_decorators
        self._load_lock = threading.Lock()
        self._error: str | None = None

    def __repr__(self) -> str:
        return f"CachedUpdatePersister({self.impl!r})"

    @property
    def cache_key(self) -> str:
        """The ``process_store`` key of the cached model: this component's config key."""
        return str(getattr(self, "__pld_config_key__", None) or DEFAULT_KEY)

    def initialize_component(self, config: Any) -> None:
        """Serving: load the active model and start the schedule. Fitting: do nothing."""
        if config.get("__mode__") == "fit":
            self.use_cache = False
            return
        self.use_cache = True
        if self.warm_up is not None and self.warm_up is not False:
            self._warm_up = WarmUp(config, self.warm_up, self.warm_up_rows)
        self._update = decorate(self._load, config, "update_model_decorators")
        try:
            self.update_cache()
        except ConfigError:  # the configuration is wrong, not the model: say so
            raise
        except Exception:  # never crash-loop: serve 503 with the reason until a good load
            logger.warning("%s: no model to serve yet; serving starts without one", self)
        else:
            logger.info("%s: initial fill of cache done", self)
        if self.rrule is not None:
            self.thread = RruleThread(
                self._scheduled_update, self.rrule, name=f"pld-model-cache-{self.cache_key}"
            )
            self.thread.start()

    def stop(self) -> None:
        """Stop the reload schedule (tests, shutdown)."""
        if self.thread is not None:
            self.thread.stop()
            self.thread = None

    # -- the cache -----------------------------------------------------------------------

    def cached_model(self) -> Any:
        """The model in the cache (``process_store[cache_key]``), or ``None``."""
        return _store().get(self.cache_key)

    def update_cache(self, version: int | None = None) -> Any:
        """Reload the active model (or ``version``) into the cache.

        :return: the new model, or ``None`` when ``check_version`` found nothing new.
        :raises: whatever loading raised, after recording it; the old model stays cached.
        """
        return self._update(version)

    def load_error(self) -> str | None:
        """Why the last load failed, or ``None`` after a good one."""
        return self._error

    def _scheduled_update(self) -> None:
        with suppress(Exception):  # _load has logged and recorded it
            self.update_cache()

    def _load(self, version: int | None = None) -> Any:
        key = self.cache_key
        with self._load_lock:
            status = self._status()
            status["checked_at"] = _now()
            require_verified(self.impl)  # a configuration error, not a failed load
            try:
                if version is None and self.check_version:
                    active = self.impl.list_properties().get("active-model")
                    if active is None:
                        raise LookupError(f"No active model in {self.impl!r}")
                    if int(active) == self.loaded_version and key in _store():
                        return None
                    version = int(active)
                model = self.impl.read(version)
                if self._warm_up is not None:
                    self._warm_up.check(model)
            except Exception as exc:
                if isinstance(exc, WarmUpError):
                    status["rejected_version"] = version
                status["last_error"] = f"{type(exc).__name__}: {exc}"
                status["last_error_at"] = _now()
                self._error = str(exc) if isinstance(exc, LookupError) else status["last_error"]
                if isinstance(exc, LookupError):
                    logger.error("%s: cannot load a model: %s", self, exc)
                else:
                    keeping = "keeping the old one" if key in _store() else "none to serve"
                    logger.exception("%s: loading a model failed; %s", self, keeping)
                raise
            loaded = (getattr(model, "__metadata__", None) or {}).get("version", version)
            _store()[key] = model
            self.loaded_version = int(loaded) if loaded is not None else None
            self._error = None
            status.update(version=self.loaded_version, loaded_at=_now())
            logger.info("%s: loaded model version %s", self, self.loaded_version)
            return model

    def _status(self) -> dict[str, Any]:
        store = _store()
        if "process_metadata" not in store:
            store["process_metadata"] = {}
        caches = store["process_metadata"].setdefault("model_cache", {})
        status: dict[str, Any] = caches.setdefault(self.cache_key, {})
        return status

    # -- the persister interface ---------------------------------------------------------

    def read(self, version: int | None = None) -> Any:
        """Serving: the cached model for ``None`` or the cached version; others from ``impl``."""
        if not self.use_cache:
            return self.impl.read(version)
        if version is not None:
            version = as_version(version)
        if version is None or version == self.loaded_version:
            try:
                return _store()[self.cache_key]
            except KeyError:
                if version is None:
                    raise LookupError(
                        f"No model loaded into the cache {self.cache_key!r} yet"
                    ) from None
        return self.impl.read(version)

    def write(self, model: Any) -> int:
        return self.impl.write(model)

    def activate(self, version: int) -> None:
        self.impl.activate(version)

    def delete(self, version: int) -> None:
        self.impl.delete(version)

    def list_models(self) -> list[dict[str, Any]]:
        return self.impl.list_models()

    def list_properties(self) -> dict[str, str]:
        return self.impl.list_properties()

    def upgrade(self, from_version: str | None = None, to_version: str | None = None) -> None:
        self.impl.upgrade(from_version=from_version, to_version=to_version)

    def verified_by_pld(self) -> bool:
        verified = getattr(self.impl, "verified_by_pld", None)
        return bool(callable(verified) and verified())


def _store() -> ProcessStore:
    return process_store


def _now() -> str:
    return datetime.now(UTC).isoformat()
