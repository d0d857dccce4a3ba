"""Disk caches for dataset loaders, used as ``load_data_decorators`` while developing.

Loading from a remote database again and again is slow; these keep a loader's result on disk,
keyed by the loader's settings, so the next run reads the file instead::

    'load_data_decorators': [
        {'!': 'diskcache', 'compute_key': {'!': 'compute_key_attrs', 'attrs': ['sql', 'url']}},
    ],

Writes go to a temporary file renamed into place, so a concurrent reader never sees half a
file. Delete the files (see ``filename_tmpl``) when the data or the loader changes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
import uuid
from collections.abc import Callable, Sequence
from typing import Any


def compute_key_attrs(attrs: Sequence[str]) -> Callable[..., Any]:
    """A key function: the named attributes of the first argument (the dataset loader)."""

    def compute_key(loader: Any, *args: Any, **kwargs: Any) -> Any:
        return (type(loader).__qualname__, *(repr(getattr(loader, a, None)) for a in attrs))

    return compute_key


def _default_key(loader: Any, *args: Any, **kwargs: Any) -> Any:
    # The loader's settings, not its repr: a default repr holds a memory address.
    settings = sorted((k, repr(v)) for k, v in vars(loader).items() if not k.endswith("_"))
    return (type(loader).__qualname__, settings, args, sorted(kwargs.items()))


class diskcache:  # noqa: N801 -- Palladium's name, used in configs
    """Cache the decorated function's result in a file per key (joblib's fast numpy format).

    :param filename_tmpl: path template with ``{key}``; default in the temp directory.
    :param compute_key: ``key(*args, **kwargs)``; default: the loader's settings.
    :param ignore: bypass the cache (a bool, or a callable asked on each call).
    """

    def __init__(
        self,
        filename_tmpl: str | None = None,
        compute_key: Callable[..., Any] | None = None,
        ignore: bool | Callable[[], bool] = False,
    ) -> None:
        if filename_tmpl is not None and "{key}" not in filename_tmpl:
            raise ValueError(
                f"filename_tmpl must contain a {{key}} placeholder, e.g. 'cache-{{key}}.pickle'; "
                f"got {filename_tmpl!r}"
            )
        self.filename_tmpl = filename_tmpl
        self.compute_key = compute_key or _default_key
        self.ignore = ignore

    def path_for(self, func: Callable[..., Any], key: Any) -> str:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        template = self.filename_tmpl or os.path.join(
            tempfile.gettempdir(),
            "pld",
            f"cache-{func.__module__}.{func.__qualname__}-{{key}}.pickle",
        )
        return template.format(key=digest)

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def cached(*args: Any, **kwargs: Any) -> Any:
            ignore = self.ignore() if callable(self.ignore) else self.ignore
            if ignore:
                return func(*args, **kwargs)
            path = self.path_for(func, self.compute_key(*args, **kwargs))
            if os.path.exists(path):
                return self.load(path)
            value = func(*args, **kwargs)
            self._store(path, value)
            return value

        cached.__cache__ = self  # type: ignore[attr-defined]
        return cached

    def _store(self, path: str, value: Any) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        temporary = f"{path}.tmp-{uuid.uuid4().hex}"
        try:
            self.dump(value, temporary)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    def dump(self, value: Any, path: str) -> None:
        import joblib

        joblib.dump(value, path)

    def load(self, path: str) -> Any:
        import joblib

        return joblib.load(path)


class picklediskcache(diskcache):  # noqa: N801 -- Palladium's name
    """:class:`diskcache` with the standard library's pickle instead of joblib."""

    def dump(self, value: Any, path: str) -> None:
        with open(path, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, path: str) -> Any:
        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 -- our own cache file
