"""``pld predict --scheduler``: the partitions of a directory scored on a dask cluster.

Answers the ``pld_batch_executor`` hook with an executor on a dask.distributed client. The
``--scheduler`` value takes the forms the config's cluster entries take (``pld_plugins.
dask_cluster``, one parser for all): an address (``tcp://127.0.0.1:8786``), a scheduler file
(``scheduler.json``), or ``local:N`` — a ``LocalCluster`` of N single-threaded worker
processes on 127.0.0.1 for this run. Workers need pld installed and the config, model store
and files at the same paths (one machine, or a shared file system). distributed is imported
only when a batch runs on a cluster.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from concurrent.futures import Executor
from typing import Any

from pld_core import ConfigError, hookimpl
from pld_plugins.dask_cluster import check_cluster, cluster_client

__all__ = ["pld_batch_executor", "scheduler_spec"]

_LOCAL = re.compile(r"local(?::(\d+))?")
OPTION = "--scheduler"


def scheduler_spec(scheduler: str) -> dict[str, Any]:
    """The cluster entry (``dask_cluster``'s forms) a ``--scheduler`` value means."""
    local = _LOCAL.fullmatch(scheduler.strip())
    if local:
        workers = int(local.group(1) or 2)
        if workers < 1:
            raise ConfigError("local:N needs at least one worker", key=OPTION)
        return {"local_cluster": {"n_workers": workers, "threads_per_worker": 1}}
    if scheduler.endswith(".json"):
        return {"scheduler_file": scheduler}
    return {"scheduler": scheduler}


@contextlib.contextmanager
def dask_executor(scheduler: str) -> Iterator[Executor]:
    """An executor on the cluster ``scheduler`` names; closed (a local cluster too) after."""
    spec = scheduler_spec(scheduler)
    check_cluster(spec, OPTION)
    if "local_cluster" in spec:  # its workers are ours: stopping them is no news on stderr
        logging.getLogger("distributed.nanny").setLevel(logging.ERROR)
    with cluster_client(spec, OPTION) as client:
        executor: Executor = client.get_executor(pure=False)
        yield executor


@hookimpl
def pld_batch_executor(scheduler: str) -> Any:
    """A dask executor for every ``--scheduler`` value (pld-plugins is the batch's cluster)."""
    return dask_executor(scheduler)
