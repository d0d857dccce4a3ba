"""Build the search the ``grid_search`` entry describes, run it, and persist the best model.

A dict entry becomes scikit-learn's ``GridSearchCV`` around the ``model`` entry; an object the
config built (``RandomizedSearchCV``, ``HalvingGridSearchCV``, a third party's) is used as
given. Data loading, fitting and writing go through pld's hooks and decorator lists, so
plugins and configs see a search exactly as they see ``pld fit``.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from typing import Any

from pld_core import (
    Config,
    annotate,
    data_metadata,
    decorate,
    jsonable,
    model_metadata,
    timer,
)
from pld_plugins.grid_search import report
from pld_plugins.grid_search.dask_backend import check_backend, parallel_backend

logger = logging.getLogger(__name__)

KEY = "grid_search"
_OWN_KEYS = ("backend",)  # keys of the grid_search dict that are pld's, not GridSearchCV's
#: Candidates shown in a job record (all of them go to the CSV and the model's metadata).
DESCRIBED_RESULTS = 10


@dataclass
class SearchResult:
    """A finished search: the fitted search object and its results, best first."""

    search: Any
    frame: Any
    metric: str
    data_info: dict[str, Any] = field(default_factory=dict)  # feature names, input schema
    version: int | None = None
    report: str | None = None  # where --report wrote the HTML report

    @property
    def best_params(self) -> dict[str, Any]:
        """The parameters of the best candidate."""
        return dict(self.frame["params"].iloc[0])

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary for the job record under ``/alive``: the best candidates."""
        records = report.result_records(self.frame, self.metric)
        return {
            "scoring": self.metric,
            "best_params": records[0]["params"],
            "best_score": records[0][f"mean_test_{self.metric}"],
            "n_candidates": len(records),
            "results": records[:DESCRIBED_RESULTS],
            "version": self.version,
            "activated": self.version is not None,
        }


@dataclass
class SearchPlan:
    """What to run: the search object and the joblib backend to run it in."""

    search: Any
    backend: Any = None
    backend_params: dict[str, Any] | None = None


def run_grid_search(config: Config, *, persist_best: bool = False) -> SearchResult:
    """Load the training data and run the configured search.

    ``persist_best`` makes the search refit the best parameters and checks up front that
    there is a persister; :func:`persist_best_model` then stores the result.
    """
    if persist_best:
        config["model_persister"]  # fail on a missing persister before the long search
    entry = config[KEY]
    with timer(logger, "Loading data"):
        X, y = load_data(config, "dataset_loader_train")
    plan = build_search(config, entry, X, y, persist_best=persist_best)
    search = plan.search
    if persist_best and getattr(search, "refit", True) is False:  # fail before the long search
        raise config.error("--persist-best needs a search with refit=True", KEY)
    total = expected_fits(search, X, y)
    with (
        timer(logger, "Searching"),
        parallel_backend(
            plan.backend,
            key=f"{KEY}.backend",
            path=config.origin.get(KEY),
            **(plan.backend_params or {}),
        ),
        progress_logged(total),
    ):
        search = _hooks(config).pld_fit(model=search, X=X, y=y)
    if not hasattr(search, "cv_results_"):
        raise config.error(f"{type(search).__name__} has no cv_results_ after fitting", KEY)
    refit = getattr(search, "refit", None)
    metric = report.primary_metric(search.cv_results_, refit)
    frame = report.results_frame(search.cv_results_, refit)
    data_info = data_metadata(X, config["dataset_loader_train"])
    return SearchResult(search, frame, metric, data_info)


def progress_logged(total: int | None) -> Any:
    """The fits-done logging context (imported late: it needs scikit-learn)."""
    from pld_plugins.grid_search.progress import track_fits

    return track_fits(total)


def build_search(
    config: Config, entry: Any, X: Any, y: Any, *, persist_best: bool = False
) -> SearchPlan:
    """The search object and backend for ``entry``, the ``grid_search`` config value."""
    from pld_plugins.grid_search import WithParallelBackend

    if isinstance(entry, WithParallelBackend):
        return SearchPlan(entry.estimator, entry.backend, entry.backend_params)
    if isinstance(entry, dict):
        return _build_grid_search(config, entry, X, y, persist_best)
    if callable(getattr(entry, "fit", None)):
        return SearchPlan(entry)
    raise config.error(
        "must be a dict of GridSearchCV arguments or a search object with a 'fit' method, "
        f"not {type(entry).__name__}",
        KEY,
    )


def _build_grid_search(
    config: Config, entry: dict[str, Any], X: Any, y: Any, persist_best: bool
) -> SearchPlan:
    from sklearn.model_selection import GridSearchCV

    model = config["model"]
    kwargs = {key: value for key, value in entry.items() if key not in _OWN_KEYS}
    backend = entry.get("backend")
    check_backend(backend, f"{KEY}.backend", config.origin.get(KEY))
    if "param_grid" not in kwargs:
        raise config.error("needs a 'param_grid' entry", KEY)
    _check_param_grid(config, model, kwargs["param_grid"])
    kwargs["scoring"] = _scoring(config, model, kwargs.get("scoring"))
    if "cv" in kwargs:
        kwargs["cv"] = _cv(config, kwargs["cv"], X, y)
    if "refit" not in kwargs:  # refit only what will be stored; several scorers: the first
        scoring = kwargs["scoring"]
        several = isinstance(scoring, dict)
        kwargs["refit"] = (next(iter(scoring)) if several else True) if persist_best else False
    elif persist_best and not kwargs["refit"]:
        raise config.error(
            "--persist-best needs the search to refit: set 'refit' to True or leave it out",
            f"{KEY}.refit",
        )
    try:
        inspect.signature(GridSearchCV).bind(model, **kwargs)
    except TypeError as exc:
        raise config.error(f"bad arguments for GridSearchCV: {exc}", KEY) from None
    return SearchPlan(GridSearchCV(model, **kwargs), backend)


def _check_param_grid(config: Config, model: Any, param_grid: Any) -> None:
    grids = param_grid if isinstance(param_grid, list) else [param_grid]
    known = set(model.get_params(deep=True)) if hasattr(model, "get_params") else None
    for index, grid in enumerate(grids):
        where = f"{KEY}.param_grid" + (f"[{index}]" if isinstance(param_grid, list) else "")
        if not isinstance(grid, dict) or not grid:
            raise config.error("must be a non-empty dict of parameter name -> values", where)
        for name, values in grid.items():
            if known is not None and name not in known:
                raise config.error(
                    f"{name!r} is not a parameter of {type(model).__name__} "
                    "(a pipeline step's parameter is named 'step__param')",
                    f"{where}.{name}",
                )
            if isinstance(values, str) or not hasattr(values, "__iter__"):
                raise config.error("must be a list of values to try", f"{where}.{name}")


def _scoring(config: Config, model: Any, local: Any) -> Any:
    """The scorer(s) for the search: ``grid_search.scoring`` or the global ``scoring``."""
    global_scoring = config.get("scoring")
    if local is not None and global_scoring is not None:
        raise config.error(
            "'scoring' is set both here and globally; keep one of them", f"{KEY}.scoring"
        )
    scoring, key = (local, f"{KEY}.scoring") if local is not None else (global_scoring, "scoring")
    if scoring is None:
        if not callable(getattr(model, "score", None)):
            raise config.error(
                f"{type(model).__name__} has no 'score' method; add a 'scoring' entry", "scoring"
            )
        return None
    if isinstance(scoring, dict):
        return {
            str(name): _scorer(config, value, f"{key}.{name}") for name, value in scoring.items()
        }
    if isinstance(scoring, list | tuple):
        return {str(name): _scorer(config, name, f"{key}[{i}]") for i, name in enumerate(scoring)}
    return _scorer(config, scoring, key)


def _scorer(config: Config, scoring: Any, key: str) -> Any:
    scorer = _hooks(config).pld_make_scorer(scoring=scoring)
    if scorer is None:
        raise config.error(f"unknown scorer {scoring!r} (no installed plugin knows it)", key)
    return scorer


def _cv(config: Config, cv: Any, X: Any, y: Any) -> Any:
    """A CV splitter or fold count as given; a plain callable is called with ``n``/``X``/``y``."""
    if cv is None or isinstance(cv, int) or hasattr(cv, "split") or not callable(cv):
        return cv
    available = {"n": len(X), "X": X, "y": y}
    try:
        parameters = dict(inspect.signature(cv).parameters)
    except (TypeError, ValueError):
        parameters = {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        kwargs = available
    else:
        kwargs = {name: value for name, value in available.items() if name in parameters}
    try:
        return cv(**kwargs)
    except Exception as exc:
        raise config.error(f"calling cv failed: {type(exc).__name__}: {exc}", f"{KEY}.cv") from None


def expected_fits(search: Any, X: Any, y: Any) -> int | None:
    """Candidates x folds for grid and randomized searches; ``None`` when unknown in advance."""
    from sklearn.base import is_classifier
    from sklearn.model_selection import (
        GridSearchCV,
        ParameterGrid,
        ParameterSampler,
        RandomizedSearchCV,
        check_cv,
    )

    try:
        if isinstance(search, GridSearchCV):
            candidates = len(ParameterGrid(search.param_grid))
        elif isinstance(search, RandomizedSearchCV):
            candidates = len(
                ParameterSampler(search.param_distributions, search.n_iter, random_state=0)
            )
        else:
            return None
        cv = check_cv(search.cv, y, classifier=is_classifier(search.estimator))
        return int(candidates * cv.get_n_splits(X, y))
    except Exception:  # progress is a nicety: never fail the search over it
        return None


def load_data(config: Config, key: str) -> tuple[Any, Any]:
    """Load entry ``key``'s dataset through ``pld_load_data`` and ``load_data_decorators``."""
    loader = config[key]
    hooks = _hooks(config)

    def load(loader: Any) -> Any:
        return hooks.pld_load_data(loader=loader)

    result = decorate(load, config, "load_data_decorators")(loader)
    if not isinstance(result, tuple) or len(result) != 2:
        raise config.error(f"the dataset loader returned {type(result).__name__}, not (X, y)", key)
    return result


def persist_best_model(config: Config, result: SearchResult) -> int:
    """Write the refitted best estimator with the search results in its metadata; activate it."""
    search = result.search
    best = getattr(search, "best_estimator_", None)
    if best is None:
        raise config.error(
            "--persist-best needs a search that refits the best parameters (refit=True)", KEY
        )
    annotate(best, {**model_metadata(best), **result.data_info})
    annotate(
        best,
        {
            "cv_results": report.result_records(result.frame, result.metric),
            "grid_search": jsonable(
                {
                    "search_class": _qualname(search),
                    "best_params": getattr(search, "best_params_", result.best_params),
                    "best_score": getattr(search, "best_score_", None),
                    "scoring": result.metric,
                    "n_splits": getattr(search, "n_splits_", None),
                    "n_candidates": len(result.frame),
                }
            ),
        },
    )
    persister = config["model_persister"]
    hooks = _hooks(config)

    def write(persister: Any, model: Any) -> Any:
        return hooks.pld_write_model(persister=persister, model=model, config=config)

    with timer(logger, "Writing model"):
        version = int(decorate(write, config, "write_model_decorators")(persister, best))
    persister.activate(version)
    result.version = version
    return version


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _hooks(config: Config) -> Any:
    if config.plugins is None:
        raise config.error("this configuration was built without a plugin manager", KEY)
    return config.plugins.hook
