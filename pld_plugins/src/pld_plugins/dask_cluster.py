"""Which dask.distributed cluster a config entry names, and a ``Client`` on it.

One parser for every entry that names a cluster, so they accept the same forms: the grid
search's ``backend`` and the ``jobs`` entry.

- ``{'scheduler': '127.0.0.1:8786'}``: an existing scheduler (any address dask takes);
- ``{'scheduler_file': 'scheduler.json'}``: the same, found through ``dask scheduler
  --scheduler-file``;
- ``{'local_cluster': {'n_workers': 2, 'threads_per_worker': 1}}``: a throw-away
  ``LocalCluster`` on 127.0.0.1, closed with the client;
- and with any of them ``'connect_timeout'`` (default ``'5s'``).

dask and distributed are imported only when a client is made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from pld_core import ConfigError, PldError

__all__ = [
    "CLUSTER_KEYS",
    "DEFAULT_CONNECT_TIMEOUT",
    "OPTION_KEYS",
    "check_cluster",
    "cluster_client",
    "first_line",
    "missing_distributed",
    "names_cluster",
]

DEFAULT_CONNECT_TIMEOUT = "5s"
CLUSTER_KEYS = ("scheduler", "scheduler_file", "local_cluster")
OPTION_KEYS = ("connect_timeout",)


def names_cluster(spec: Any) -> bool:
    """Whether ``spec`` (a config dict) names a cluster in one of the forms above."""
    return isinstance(spec, dict) and any(name in spec for name in CLUSTER_KEYS)


def check_cluster(
    spec: dict[str, Any], key: str, path: str | None = None, other_keys: Iterable[str] = ()
) -> None:
    """Raise :class:`ConfigError` (naming ``key``) unless ``spec`` names one cluster.

    ``other_keys`` are the entry's own settings beside the cluster's (the ``jobs`` entry's
    ``url``), let through here.
    """
    chosen = [name for name in CLUSTER_KEYS if name in spec]
    if len(chosen) != 1:
        raise ConfigError(
            "needs exactly one of 'scheduler', 'scheduler_file' or 'local_cluster'",
            path=path,
            key=key,
        )
    unknown = sorted(set(spec) - set(CLUSTER_KEYS) - set(OPTION_KEYS) - set(other_keys))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(map(repr, unknown))}", path=path, key=key)
    cluster = spec.get("local_cluster")
    if cluster is not None and not isinstance(cluster, dict):
        raise ConfigError(
            "'local_cluster' must be a dict of LocalCluster arguments", path=path, key=key
        )
    for name in ("scheduler", "scheduler_file"):
        if name in spec and not (isinstance(spec[name], str) and spec[name].strip()):
            raise ConfigError(
                f"{name!r} must be an address string, not {spec[name]!r}", path=path, key=key
            )


@contextlib.contextmanager
def cluster_client(spec: dict[str, Any], key: str, path: str | None = None) -> Iterator[Any]:
    """A dask ``Client`` on the cluster ``spec`` names (not the default client), closed on exit.

    :raises ConfigError: distributed is not installed, or bad ``LocalCluster`` arguments.
    :raises PldError: the scheduler cannot be reached within ``connect_timeout`` (one line).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise missing_distributed(exc, key, path) from None
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
                raise PldError(f"cannot start the local dask cluster: {first_line(exc)}") from None
            client = stack.enter_context(Client(cluster, timeout=timeout, set_as_default=False))
        else:
            where = spec.get("scheduler") or spec["scheduler_file"]
            address = {"address": spec["scheduler"]} if "scheduler" in spec else {}
            scheduler_file = {"scheduler_file": spec["scheduler_file"]} if not address else {}
            try:
                client = Client(**address, **scheduler_file, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise PldError(
                    f"cannot reach the dask scheduler {where} (within {timeout}): {first_line(exc)}"
                ) from None
            stack.enter_context(client)
        yield client


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (dask's can run to many)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def missing_distributed(exc: ImportError, key: str, path: str | None) -> ConfigError:
    """The error for a cluster named while dask.distributed is not installed."""
    return ConfigError(
        f'a dask cluster needs dask.distributed (pip install "pld-plugins[dask]"): {exc}',
        path=path,
        key=key,
    )
