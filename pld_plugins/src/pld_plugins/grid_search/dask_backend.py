"""Where the search's fits run: joblib's local default, another joblib backend, or dask.distributed.

The ``backend`` value of the ``grid_search`` entry picks one of these:

- a dict naming a dask.distributed cluster, read by :mod:`pld_plugins.dask_cluster` (as the
  ``jobs`` entry is): ``{'scheduler': '127.0.0.1:8786'}``, ``{'scheduler_file': ...}`` or
  ``{'local_cluster': {...}}`` (a throw-away ``LocalCluster`` for this run);
- a joblib backend name (``'loky'``, ``'threading'``, ``'dask'`` for an already created
  default ``Client``...).

On dask, each fit runs sequentially inside its task: joblib's dask backend would otherwise
send the estimator's own inner joblib calls (a random forest's trees, a pipeline's feature
union) back through the scheduler, which costs far more than it gains. dask and distributed
are imported only when a dask backend is used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from pld_core import ConfigError
from pld_plugins.dask_cluster import check_cluster, cluster_client, missing_distributed


def check_backend(backend: Any, key: str, path: str | None = None) -> None:
    """Raise :class:`ConfigError` (naming ``key``) unless ``backend`` is a valid value."""
    if backend is None or isinstance(backend, str):
        return
    if not isinstance(backend, dict):
        raise ConfigError(
            "must be a joblib backend name or a dict with 'scheduler', 'scheduler_file' or "
            f"'local_cluster', not {type(backend).__name__}",
            path=path,
            key=key,
        )
    check_cluster(backend, key, path)


@contextlib.contextmanager
def parallel_backend(
    backend: Any,
    key: str = "grid_search.backend",
    path: str | None = None,
    **backend_params: Any,
) -> Iterator[Any]:
    """Run the body inside the joblib backend that ``backend`` describes.

    Yields the dask ``Client`` for a dask backend, else ``None``. A client or cluster made
    here is closed on exit.
    """
    check_backend(backend, key, path)
    if backend is None:
        yield None
        return
    import joblib

    if isinstance(backend, str):
        if backend == "dask":
            client = _default_client(key, path)
            with joblib.parallel_config(backend=sequential_inside_dask(client), n_jobs=-1):
                yield client
            return
        try:
            config = joblib.parallel_config(backend=backend, **backend_params)
        except ValueError as exc:
            raise ConfigError(
                f"unknown joblib backend {backend!r}: {exc}", path=path, key=key
            ) from None
        with config:
            yield None
        return
    with (
        cluster_client(backend, key, path) as client,
        joblib.parallel_config(backend=sequential_inside_dask(client), n_jobs=-1),
    ):
        yield client


def sequential_inside_dask(client: Any) -> Any:
    """joblib's dask backend on ``client``, with the fits' own joblib calls kept sequential.

    joblib runs each batch of tasks under ``parallel_config(backend="dask")``, so a random
    forest's ``n_jobs=-1`` inside a fit would submit its trees back to the scheduler. Here the
    batches run under the sequential backend instead (workers need pld-plugins installed).
    """
    from joblib._dask import DaskDistributedBackend

    class SequentialInsideDask(DaskDistributedBackend):  # type: ignore[misc]
        async def _to_func_args(self, func: Any) -> tuple[Any, Any]:
            _batch, tasks = await super()._to_func_args(func)
            return SequentialBatch(tasks), tasks

    return SequentialInsideDask(client=client)


class SequentialBatch:
    """A batch of joblib tasks run one after another, their nested joblib calls sequential."""

    def __init__(self, tasks: list[Any]) -> None:
        names = {getattr(func, "__name__", type(func).__name__) for func, _, _ in tasks}
        self._label = f"batch_of_{'_'.join(sorted(names))}_{len(tasks)}_calls"

    def __call__(self, tasks: list[Any]) -> list[Any]:
        from joblib import parallel_config

        with parallel_config(backend="sequential"):
            return [func(*args, **kwargs) for func, args, kwargs in tasks]

    def __repr__(self) -> str:
        return self._label


def _default_client(key: str, path: str | None) -> Any:
    try:
        from distributed import get_client
    except ImportError as exc:
        raise missing_distributed(exc, key, path) from None
    try:
        return get_client()
    except ValueError:
        raise ConfigError(
            "backend 'dask' needs a dask Client created by the config (e.g. an entry "
            "{'!': 'dask.distributed.Client', 'address': ...}); or give "
            "{'scheduler': 'host:port'} instead",
            path=path,
            key=key,
        ) from None
