"""A checked model whose unpickling waits until something needs the Python object.

Unpickling a scikit-learn model imports scikit-learn, scipy and pandas: most of a short
``pld predict`` run. A version whose stored metadata already holds everything that serves it
(a verified compiled form) need not pay that. Inside :func:`deferred_unpickling`, a
:class:`~pld_core.ModelStore` checks a version's bytes as always (digest, signature; with
signing, the metadata's own signature too, else it unpickles as before) and hands back a
:class:`DeferredModel`: its ``__metadata__`` is the stored metadata, its attachments checked
against their recorded digests, and :meth:`DeferredModel.load` unpickles the checked bytes
once, when first needed. Any other attribute loads it too, so code that did not ask for a
deferred model still works with one, only without the saving.

The ``pld_serve_stored`` hook lets a plugin serve such a version from its metadata alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["DeferredModel", "deferred_unpickling", "deferring"]

_DEFERRING: ContextVar[bool] = ContextVar("pld_deferred_unpickling", default=False)


@contextmanager
def deferred_unpickling() -> Iterator[None]:
    """Within this block (this thread or task), model stores defer unpickling where they can.

    ``pld predict`` reads its model inside one; a server does not (a fallback must not pay
    the import of the model's library inside a request).
    """
    token = _DEFERRING.set(True)
    try:
        yield
    finally:
        _DEFERRING.reset(token)


def deferring() -> bool:
    """Whether the caller is inside :func:`deferred_unpickling`."""
    return _DEFERRING.get()


class DeferredModel:
    """A stored version, checked and not yet unpickled.

    :param metadata: the version's stored metadata (its ``version``, ``digest``, attachments).
    :param load: unpickles the checked bytes; called at most once.
    """

    def __init__(self, metadata: dict[str, Any], load: Callable[[], Any]) -> None:
        self.__metadata__ = metadata
        self._load: Callable[[], Any] | None = load
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def is_loaded(self) -> bool:
        """Whether the Python model has been unpickled."""
        return self._load is None

    def load(self) -> Any:
        """The Python model, unpickled on the first call (thread-safe)."""
        if self._load is not None:
            with self._lock:
                if self._load is not None:
                    self._model, self._load = self._load(), None
        return self._model

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_load", "_model", "_lock"):
            raise AttributeError(name)
        return getattr(self.load(), name)

    def __repr__(self) -> str:
        state = "loaded" if self.is_loaded else "not unpickled yet"
        return f"DeferredModel(version {self.__metadata__.get('version')}, {state})"
