"""The plain implementations of the call-through hooks: what pld does when no plugin says else.

Always registered (as ``pld_core.hook_defaults``, ``trylast``), never disabled: any plugin can
wrap them with ``@hookimpl(wrapper=True)`` or answer before them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pld_core.hookspecs import hookimpl
from pld_core.interfaces import DatasetLoader, ModelPersister
from pld_core.jobs import InProcessJobs, JobStore, run_job
from pld_core.process_state import process_store
from pld_core.tasks import Task

PLUGIN_NAME = "pld_core.hook_defaults"


@hookimpl(trylast=True)
def pld_load_data(loader: DatasetLoader) -> tuple[Any, Any]:
    X, y = loader()
    return X, y


@hookimpl(trylast=True)
def pld_fit(model: Any, X: Any, y: Any) -> Any:
    fitted = model.fit(X, y)
    # Some estimators (R bridges, old code) return None from fit: the model itself is fitted.
    return model if fitted is None else fitted


@hookimpl(trylast=True)
def pld_read_model(persister: ModelPersister, version: int | None) -> Any:
    return persister.read(version)


@hookimpl(trylast=True)
def pld_write_model(persister: ModelPersister, model: Any) -> int:
    return persister.write(model)


@hookimpl(trylast=True)
def pld_predict(model: Any, X: Any, method: str, params: dict[str, Any]) -> Any:
    return getattr(model, method)(X, **params)


@hookimpl(trylast=True)
def pld_make_scorer(scoring: Any) -> Callable[[Any, Any, Any], float] | None:
    return scoring if callable(scoring) else None


@hookimpl(trylast=True)
def pld_job_store(config: Any) -> JobStore:
    return InProcessJobs(process_store)


@hookimpl(trylast=True)
def pld_run_job(config: Any, task: Task, options: dict[str, Any], jobs: JobStore) -> str:
    def job() -> Any:
        return task.run(config, **options)

    _thread, job_id = run_job(process_store, task.name, job, params=options, jobs=jobs)
    return job_id
