"""Where a predict path gets its model, decided once: the one way to get the served model.

A :class:`CachingModelPersister` (such as ``cached-update``) keeps the model in memory itself,
so each prediction asks it. Any other persister is read once, through the ``pld_read_model``
hook and ``read_model_decorators``, and the model is kept here — in the object that owns the
source (an app, a stream, a batch run), never in a process-wide store, so two apps in one
process serve their own models. ``reload()`` reads the new model completely before it swaps it
in.

A model that cannot be loaded — none active, its bytes missing, corrupt or unpicklable — never
stops a server from starting: the source starts empty, :meth:`ModelSource.get` raises
:class:`~pld_core.NoModelError` with the reason (a 503 answer), and the next good load serves.

Once per model, the ``pld_serve_model`` hook may name another object to predict with (a
compiled form of the model); ``get()`` returns it, and :meth:`ModelSource.served_by` says which.
A model read inside :func:`~pld_core.deferred_unpickling` is first offered, not yet
unpickled, to the ``pld_serve_stored`` hook; without an answer it is unpickled here, before
it serves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pld_core.config import Config
from pld_core.deferred import DeferredModel
from pld_core.errors import ConfigError, NoModelError
from pld_core.interfaces import CachingModelPersister
from pld_core.steps import read_model

logger = logging.getLogger(__name__)

#: What :meth:`ModelSource.served_by` says when the model itself predicts.
PYTHON = "python"


class ModelSource:
    """``get()`` returns the model to predict with; :class:`NoModelError` with the reason when
    there is none.

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
        self._error: str | None = None
        self.current: Callable[[], Any]
        #: (model, what predicts for it, what that is): decided once per model object.
        self._serving: tuple[Any, Any, str] = (None, None, PYTHON)
        self._serve_hook = _hook(config, "pld_serve_model")
        self._stored_hook = _hook(config, "pld_serve_stored")
        #: Whether the persister keeps the model (and reports it under ``/alive`` itself).
        self.caching = False
        if isinstance(self.persister, CachingModelPersister) and version is None:
            self.caching, self.current = True, self.persister.cached_model
            return
        self.current = self._kept
        if self.persister is not None:
            try:
                self.reload()
            except ConfigError:  # the configuration is wrong, not the model: say so
                raise
            except Exception as exc:  # start without a model rather than crash-loop
                if version is not None:  # asked for one version: it must load
                    raise
                logger.error("no model to serve: %s", self._error)
                if not isinstance(exc, LookupError):
                    logger.debug("loading the model failed", exc_info=True)

    def get(self) -> Any:
        """The model to predict with.

        :raises NoModelError: there is none; the message says why (HTTP answers 503).
        """
        model = self.current()
        if model is None:
            problem = self.problem()
            message = "no model is available to predict with"
            raise NoModelError(f"{message}: {problem}" if problem else message)
        serving = self._serving
        return serving[1] if model is serving[0] else self._serve(model)

    def served_by(self) -> str | None:
        """What predicts with the current model: ``"python"`` for the model itself, else the
        ``served_by`` of the ``pld_serve_model`` hook's answer (``"onnx"``); ``None``: no model."""
        model = self.current()
        if model is None:
            return None
        if model is not self._serving[0]:
            self._serve(model)
        return self._serving[2]

    def _serve(self, model: Any) -> Any:
        """What predicts for ``model``: the ``pld_serve_stored`` hook's answer for a model not
        unpickled yet, else the ``pld_serve_model`` hook's, else the model."""
        answer, kept = None, model
        if isinstance(model, DeferredModel):
            answer = self._ask(self._stored_hook, model)
            if answer is None:
                model = model.load()
        if answer is None:
            answer = self._ask(self._serve_hook, model)
        served, by = model, PYTHON
        if answer is not None:
            served, by = answer, str(getattr(answer, "served_by", type(answer).__name__))
        self._serving = (kept, served, by)
        return served

    def _ask(self, hook: Callable[..., Any] | None, model: Any) -> Any:
        """``hook``'s answer for ``model``; ``None`` without one, or when it fails."""
        if hook is None:
            return None
        try:
            return hook(model=model, config=self.config)
        except ConfigError:  # the configuration is wrong: say so, as for loading
            raise
        except Exception:
            logger.exception("%s failed; serving the model itself", hook.name)  # type: ignore[attr-defined]
            return None

    def problem(self) -> str | None:
        """Why the last load failed (the reason ``get`` gives), or ``None``."""
        if self.caching:
            return self.persister.load_error()  # type: ignore[no-any-return,union-attr]
        return self._error

    def _kept(self) -> Any:
        return self._model

    def reload(self) -> Any:
        """Load the active model (or this source's version) again; the old one serves meanwhile."""
        if self.persister is None:
            raise LookupError(f"the configuration has no {self.key!r} entry")
        if self.caching:
            return self.persister.update_cache()
        try:
            model = read_model(self.config, self.version, self.key)
            self._serve(model)  # before it serves, so the first request does not wait
        except Exception as exc:
            self._error = str(exc) if isinstance(exc, LookupError) else _describe(exc)
            raise
        self._model, self.loaded_at, self._error = model, datetime.now(UTC), None
        return model


def _hook(config: Config, name: str) -> Callable[..., Any] | None:
    """The hook ``name``, or ``None`` when no plugin implements it."""
    if config.plugins is None:
        return None
    hook = getattr(config.plugins.hook, name)
    return hook if hook.get_hookimpls() else None


def _describe(exc: BaseException) -> str:
    message = str(exc.args[0]) if len(exc.args) == 1 else str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
