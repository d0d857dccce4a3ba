"""Jobs on a dask cluster: task endpoints submit to the scheduler the ``jobs`` entry names.

With ``'jobs': {'scheduler': 'tcp://scheduler:8786'}`` (or ``scheduler_file``,
``local_cluster``: the forms the grid search's ``backend`` takes), ``POST /fit``,
``/grid-search``... add the job's record to the shared job store and submit it to the
cluster (``submit``); a dask worker loads the same config files, takes the record over and
runs the task there (``worker``), reporting progress and the result into the record. The web
worker loads no data and fits nothing. distributed is imported when the first job starts.
"""

from __future__ import annotations

import importlib
from typing import Any

from pld_core import JobStore, Task, hookimpl
from pld_plugins.dask_cluster import names_cluster

__all__ = ["pld_run_job"]


@hookimpl
def pld_run_job(config: Any, task: Task, options: dict[str, Any], jobs: JobStore) -> str | None:
    """Submit the job to the dask cluster the ``jobs`` entry names; else let the thread run it."""
    settings = config.get("jobs")
    if not names_cluster(settings):
        return None
    submit = importlib.import_module(f"{__name__}.submit")
    job_id: str = submit.submit_job(config, task, options, jobs)
    return job_id
