"""Grid search benchmark: the same search with n_jobs=1, n_jobs=2, and on a 2-worker dask cluster.

A synthetic classification task (50,000 rows x 20 features by default) and a random forest
grid of a few dozen candidates, 3 folds each. The dask run uses pld's backend (the one
``grid_search.backend`` selects) on a ``LocalCluster`` of two single-threaded worker processes
on 127.0.0.1; the cluster starts before the clock does, as an existing cluster would be.
BLAS threads are limited to one in this process, so every run measures process parallelism.

    python bench/grid_search.py [--rows 50000] [--repeat 1] [--nested]

n_jobs=1 runs once; the parallel settings run ``--repeat`` rounds, interleaved, and the
medians are compared.

``--nested`` adds two runs whose forests have ``n_jobs=-1``: joblib's stock dask backend
(the forests' inner calls go back through the scheduler) against pld's (they stay in the task).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

GRID = {
    "max_depth": [3, 4, 5, 6],
    "min_samples_leaf": [1, 50],
    "max_features": [2, 4, 6],
}


def make_data(rows: int, features: int) -> tuple[Any, Any]:
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=rows, n_features=features, n_informative=10, random_state=0
    )


def search(n_jobs: int | None, inner_n_jobs: int | None = None) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV

    forest = RandomForestClassifier(n_estimators=8, random_state=0, n_jobs=inner_n_jobs)
    return GridSearchCV(forest, GRID, cv=3, n_jobs=n_jobs, refit=False)


def timed(run: Callable[[], Any]) -> tuple[float, float, dict[str, Any]]:
    """Seconds for one run, the seconds its fits and scorings took, and the best parameters."""
    start = time.perf_counter()
    fitted = run()
    seconds = time.perf_counter() - start
    results = fitted.cv_results_
    busy = 3 * float(results["mean_fit_time"].sum() + results["mean_score_time"].sum())
    return seconds, busy, results["params"][list(results["rank_test_score"]).index(1)]


def round_robin(
    settings: dict[str, Callable[[], Any]], repeat: int, workers: int = 2
) -> dict[str, float]:
    """Run every setting ``repeat`` times, interleaved, so a busy spell hits all alike.

    Besides the wall time, prints how busy the workers were: the fits' own time over
    ``workers`` x wall time. On a shared machine the fits slow down with other load, but a
    backend that leaves workers idle shows a lower figure whatever the load.
    """
    times: dict[str, list[float]] = {label: [] for label in settings}
    for _ in range(repeat):
        for label, run in settings.items():
            seconds, busy, best = timed(run)
            times[label].append(seconds)
            usage = busy / (workers * seconds)
            print(f"{label:<38} {seconds:7.1f} s  workers busy {usage:4.0%}  best: {best}")
    return {label: statistics.median(values) for label, values in times.items()}


def warm_up(scheduler: str, X: Any, y: Any) -> None:
    """Untimed small searches: start loky's pool, and import scikit-learn on the dask workers."""
    from pld_plugins.grid_search.dask_backend import parallel_backend

    search(2).fit(X, y)
    with parallel_backend({"scheduler": scheduler}):
        search(None).fit(X, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of the parallel settings (median)"
    )
    parser.add_argument("--nested", action="store_true", help="also time n_jobs=-1 forests")
    args = parser.parse_args()

    import joblib
    from distributed import Client, LocalCluster
    from threadpoolctl import threadpool_limits

    from pld_plugins.grid_search.dask_backend import parallel_backend, sequential_inside_dask

    X, y = make_data(args.rows, args.features)
    candidates = len(GRID["max_depth"]) * len(GRID["min_samples_leaf"]) * len(GRID["max_features"])
    print(f"{args.rows} rows x {args.features} features, {candidates} candidates x 3 folds")
    with threadpool_limits(1):
        times = round_robin({"n_jobs=1": lambda: search(1).fit(X, y)}, 1, workers=1)
        options = {"n_workers": 2, "threads_per_worker": 1, "processes": True}
        start = time.perf_counter()
        with LocalCluster(host="127.0.0.1", dashboard_address="127.0.0.1:0", **options) as cluster:
            print(f"{'(LocalCluster start)':<40} {time.perf_counter() - start:8.1f} s")
            backend = {"scheduler": cluster.scheduler_address}

            def on_dask() -> Any:
                with parallel_backend(backend):
                    return search(None).fit(X, y)

            settings: dict[str, Callable[[], Any]] = {
                "n_jobs=2": lambda: search(2).fit(X, y),
                "dask": on_dask,
            }
            with Client(cluster, set_as_default=False) as client:
                if args.nested:
                    for label, chosen in (
                        ("dask stock backend, forest n_jobs=-1", "dask"),
                        ("dask pld backend, forest n_jobs=-1", sequential_inside_dask(client)),
                    ):

                        def nested(chosen: Any = chosen) -> Any:
                            with client.as_current(), joblib.parallel_config(backend=chosen):
                                return search(None, inner_n_jobs=-1).fit(X, y)

                        settings[label] = nested
                warm_up(cluster.scheduler_address, X[:3000], y[:3000])
                times.update(round_robin(settings, args.repeat))
    if args.repeat > 1:
        print("medians: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
    print(f"speed-up n_jobs=2 / n_jobs=1: {times['n_jobs=1'] / times['n_jobs=2']:.2f}x")
    print(f"dask / n_jobs=2 time ratio:   {times['dask'] / times['n_jobs=2']:.2f}")


if __name__ == "__main__":  # LocalCluster's worker processes re-import this module
    main()
