"""``pld grid-search`` (script ``pld-grid-search``): a hyperparameter search from the config.

The plugin adds the ``grid-search`` task (the command, and an endpoint when a ``url-rule``
names it) and the ``with-parallel-backend`` component (Palladium's
``palladium.fit.with_parallel_backend``). scikit-learn, pandas and dask are imported when a
search runs, never when the plugin is loaded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from pld_core import Option, Task, hookimpl, make_script

__all__ = ["GRID_SEARCH_TASK", "WithParallelBackend", "grid_search_script"]

grid_search_script = make_script("pld-grid-search", "grid-search")


class WithParallelBackend:
    """An estimator (usually a search) whose ``fit`` and predictions run in a joblib backend.

    Palladium's ``with_parallel_backend`` patched the estimator's methods in place, which made
    it unpicklable; this wrapper delegates instead. ``pld grid-search`` unwraps it and runs the
    inner search in ``backend``: a joblib backend name (``'dask'`` uses the default dask
    ``Client``, e.g. one the config created) or a dict as for ``grid_search.backend``.
    """

    def __init__(
        self,
        estimator: Any,
        backend: Any,
        methods: tuple[str, ...] | list[str] = ("fit", "predict", "predict_proba"),
        **backend_params: Any,
    ) -> None:
        self.estimator = estimator
        self.backend = backend
        self.methods = tuple(methods)
        self.backend_params = backend_params

    @contextlib.contextmanager
    def _backend(self) -> Iterator[None]:
        from pld_plugins.grid_search.dask_backend import parallel_backend

        with parallel_backend(self.backend, key="backend", **self.backend_params):
            yield

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        target = getattr(self.estimator, method)
        if method not in self.methods:
            return target(*args, **kwargs)
        with self._backend():
            return target(*args, **kwargs)

    def fit(self, X: Any, y: Any = None, **kwargs: Any) -> WithParallelBackend:
        """Fit the wrapped estimator inside the backend; return the wrapper."""
        self._call("fit", X, y, **kwargs)
        return self

    def predict(self, X: Any, **kwargs: Any) -> Any:
        """The wrapped estimator's predictions."""
        return self._call("predict", X, **kwargs)

    def predict_proba(self, X: Any, **kwargs: Any) -> Any:
        """The wrapped estimator's class probabilities."""
        return self._call("predict_proba", X, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or "estimator" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.estimator, name)


@hookimpl
def pld_register_components(register: Callable[..., None]) -> None:
    """``'!': 'with-parallel-backend'`` (alias ``palladium.fit.with_parallel_backend``)."""
    register(
        "with-parallel-backend",
        WithParallelBackend,
        aliases=["palladium.fit.with_parallel_backend"],
    )


def run_search(
    config: Any,
    *,
    persist_best: bool = False,
    save_results: str | None = None,
    report: str | None = None,
) -> Any:
    """The ``grid-search`` task: search, write the CSV and the report if asked, persist the best."""
    from pld_plugins.grid_search import report as table_report
    from pld_plugins.grid_search.search import KEY, persist_best_model, run_grid_search
    from pld_plugins.report import plotting_installed

    if report and not plotting_installed():  # before the long search, not after it
        raise config.error("--report needs matplotlib: pip install 'pld-plugins[report]'", KEY)
    result = run_grid_search(config, persist_best=persist_best)
    if save_results:  # before persisting: a failing store must not lose the results
        table_report.write_csv(result.frame, save_results)
    if report:
        from pld_plugins.report import HtmlReport

        name = (config.get("service_metadata") or {}).get("service_name") or "pld"
        HtmlReport().search(
            report, frame=result.frame, metric=result.metric, title=f"{name}: grid search"
        )
        result.report = report
    if persist_best:
        persist_best_model(config, result)
    return result


def print_search(result: Any, options: dict[str, Any], echo: Callable[[str], None]) -> None:
    """What ``pld grid-search`` prints: the table, best first, and the version it stored."""
    from pld_plugins.grid_search import report

    echo(report.format_table(result.frame))
    if result.report is not None:
        echo(f"Wrote report to {result.report}.")
    if result.version is not None:
        echo(f"Wrote model with version {result.version}.")
        echo(f"Activated model with version {result.version}.")


#: ``pld grid-search``, and the endpoint a ``url-rule`` with ``view_func: 'grid-search'`` adds.
GRID_SEARCH_TASK = Task(
    name="grid-search",
    run=run_search,
    help=(
        "Search the grid_search entry's hyperparameters with cross-validation.\n\n"
        "Prints the results, best first; progress and scikit-learn's verbose output go to "
        "stderr."
    ),
    options=(
        Option(
            "persist_best",
            default=False,
            help="Refit the best parameters on all training data, store and activate the model.",
        ),
        Option(
            "save_results",
            kind=str,
            metavar="FILE",
            http=False,
            help="Write every result row (best first) to FILE as CSV.",
        ),
        Option(
            "report",
            kind=str,
            metavar="FILE",
            http=False,
            help="Write an HTML report to FILE: the results and the score against each "
            "searched parameter (needs matplotlib: pip install 'pld-plugins[report]').",
        ),
    ),
    report=print_search,
    http_decorators="server_grid_search_decorators",
)


@hookimpl
def pld_register_tasks(register: Callable[..., None]) -> None:
    """Add ``grid-search`` (the command, and the task a url-rule can serve)."""
    register(GRID_SEARCH_TASK)
