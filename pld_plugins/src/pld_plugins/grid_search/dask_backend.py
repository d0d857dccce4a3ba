"""Where the search's fits run: joblib's local default, another joblib backend, or dask.distributed.

The ``backend`` value of the ``grid_search`` entry picks one of these:

- ``{'scheduler': '127.0.0.1:8786'}``: an existing dask.distributed scheduler;
- ``{'scheduler_file': 'scheduler.json'}``: the same, found through ``dask scheduler
  --scheduler-file``;
- ``{'local_cluster': {'n_workers': 2, 'threads_per_worker': 1}}``: a throw-away
  ``LocalCluster`` on 127.0.0.1 for this run;
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

from pld_core import ConfigError, PldError

DEFAULT_CONNECT_TIMEOUT = "5s"
_DASK_KEYS = ("scheduler", "scheduler_file", "local_cluster")
_OPTION_KEYS = ("connect_timeout",)


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
    chosen = [name for name in _DASK_KEYS if name in backend]
    if len(chosen) != 1:
        raise ConfigError(
            "needs exactly one of 'scheduler', 'scheduler_file' or 'local_cluster'",
            path=path,
            key=key,
        )
    unknown = sorted(set(backend) - set(_DASK_KEYS) - set(_OPTION_KEYS))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(map(repr, unknown))}", path=path, key=key)
    cluster = backend.get("local_cluster")
    if cluster is not None and not isinstance(cluster, dict):
        raise ConfigError(
            "'local_cluster' must be a dict of LocalCluster arguments", path=path, key=key
        )


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
        _dask_client(backend, key, path) as client,
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
        raise _missing_distributed(exc, key, path) from None
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


@contextlib.contextmanager
def _dask_client(spec: dict[str, Any], key: str, path: str | None) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise _missing_distributed(exc, key, path) from None
    timeout = spec.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    with contextlib.ExitStack() as stack:
        if "local_cluster" in spec:
            options = dict(spec["local_cluster"] or {})
            if options.get("processes", True):  # in-process clusters talk without sockets
                options.setdefault("host", "127.0.0.1")
            # None would still serve the scheduler's HTTP routes on :8787, clashing with others
            options.setdefault("dashboard_address", "127.0.0.1:0")
            try:
                cluster = stack.enter_context(LocalCluster(**options))
            except TypeError as exc:
                raise ConfigError(
                    f"bad LocalCluster arguments: {exc}", path=path, key=key
                ) from None
            except (OSError, RuntimeError) as exc:
                raise PldError(f"cannot start the local dask cluster: {_first_line(exc)}") from None
            client = stack.enter_context(Client(cluster, timeout=timeout, set_as_default=False))
        else:
            where = spec.get("scheduler") or spec["scheduler_file"]
            address = {"address": spec["scheduler"]} if "scheduler" in spec else {}
            scheduler_file = {"scheduler_file": spec["scheduler_file"]} if not address else {}
            try:
                client = Client(**address, **scheduler_file, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise PldError(
                    f"cannot reach the dask scheduler {where} (within {timeout}): "
                    f"{_first_line(exc)}"
                ) from None
            stack.enter_context(client)
        yield client


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _missing_distributed(exc: ImportError, key: str, path: str | None) -> ConfigError:
    return ConfigError(
        f'a dask backend needs dask.distributed (pip install "pld-plugins[dask]"): {exc}',
        path=path,
        key=key,
    )
