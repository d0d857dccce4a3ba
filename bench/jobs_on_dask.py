"""Web-worker CPU during a fit started over HTTP: in the web worker's thread vs on a dask cluster.

Two gunicorn servers (2 sync workers each) on the same iris config and a fit of a few CPU
seconds (gradient boosting, 2,000 rounds); one runs ``POST /fit`` jobs in a thread of the
worker that took the request (no ``jobs`` cluster), the other submits them to a
``LocalCluster`` (one worker process, one thread) on 127.0.0.1 through
``'jobs': {'scheduler': ...}``. Rounds alternate between the two (A, B, A, B...).

For each job it reports the CPU seconds (user + system, psutil) of the gunicorn master and
its workers: while the request was answered (submitting, on the cluster: importing
distributed on a worker's first job, connecting) and from the answer until the job ended.
The record is polled from the job store's SQLite file, not over HTTP, so polling costs the
servers nothing.

    python bench/jobs_on_dask.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "iris" / "iris.data"
SCRIPTS = Path(sys.executable).parent
CONFIG = """{
    'dataset_loader_train': {
        '!': 'table', 'path': %(data)r, 'sep': ',', 'nrows': 100,
        'names': ['sepal length', 'sepal width', 'petal length', 'petal width', 'species'],
        'target_column': 'species',
    },
    'model': {'!': 'sklearn.ensemble.GradientBoostingClassifier', 'n_estimators': 2000,
              'random_state': 0},
    'model_persister': {'!': 'cached-update', 'impl': {'!': 'file', 'path': here + '/m-{version}'}},
    'predict_service': {'!': 'predict-service', 'mapping': [('sepal length', 'float')]},
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
    ],
    %(jobs)s
}"""


@contextlib.contextmanager
def server(folder: Path, jobs: str) -> Iterator[tuple[str, list[Any]]]:
    """gunicorn with 2 workers on ``folder``'s config; yields its URL and its processes."""
    import psutil

    from pld_core.testing import free_port, running_server

    (folder / "config.py").write_text(CONFIG % {"data": str(DATA), "jobs": jobs})
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = str(folder / "config.py")
    command = [str(SCRIPTS / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "pld_core.wsgi:app"]
    with running_server(command, port, cwd=folder, env=env) as base:
        [master] = [p for p in psutil.Process().children() if str(port) in " ".join(p.cmdline())]
        yield base, [master, *master.children()]


def cpu(processes: list[Any]) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


def one_fit(base: str, folder: Path, processes: list[Any]) -> tuple[float, float, float]:
    """(request CPU s, CPU s until the job ended, wall s) of the servers for one ``/fit``."""
    import json

    from pld_plugins.persistence.jobs_config import FileJobs

    before = cpu(processes)
    started = time.perf_counter()
    request = urllib.request.Request(f"{base}/fit", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        job_id = json.loads(response.read())["job_id"]
    answered = cpu(processes)
    store = FileJobs(str(folder / "pld-jobs.sqlite"))
    while (store.get(job_id) or {}).get("status", "running") == "running":
        time.sleep(0.1)
    record = store.get(job_id) or {}
    assert record.get("status") == "finished", record
    return answered - before, cpu(processes) - answered, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import distributed

    results: dict[str, list[tuple[float, float, float]]] = {"thread": [], "dask": []}
    with (
        tempfile.TemporaryDirectory() as tmp,
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
    ):
        folders = {name: Path(tmp) / name for name in results}
        for folder in folders.values():
            folder.mkdir()
        jobs = {"thread": "", "dask": f"'jobs': {{'scheduler': {cluster.scheduler_address!r}}},"}
        with (
            server(folders["thread"], jobs["thread"]) as (thread_base, thread_procs),
            server(folders["dask"], jobs["dask"]) as (dask_base, dask_procs),
        ):
            runs = {
                "thread": (thread_base, thread_procs),
                "dask": (dask_base, dask_procs),
            }
            for round_ in range(args.rounds):
                for name, (base, processes) in runs.items():
                    figures = one_fit(base, folders[name], processes)
                    results[name].append(figures)
                    print(
                        f"round {round_ + 1} {name:6}: request {figures[0]:.3f} s CPU, "
                        f"during the job {figures[1]:.3f} s CPU, job {figures[2]:.1f} s wall",
                        flush=True,
                    )
    for name, rows in results.items():
        print(
            f"median {name:6}: request {statistics.median(r[0] for r in rows):.3f} s CPU, "
            f"during the job {statistics.median(r[1] for r in rows):.3f} s CPU, "
            f"job {statistics.median(r[2] for r in rows):.1f} s wall"
        )


if __name__ == "__main__":
    main()
