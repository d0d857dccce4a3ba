"""The grid_search plugin: building the search from the config, running, reporting, persisting."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

import pld_plugins.dataset
import pld_plugins.grid_search
import pld_plugins.persistence
import pld_plugins.scoring
from pld_core import ConfigError, PldError, load_config
from pld_core.testing import make_plugin_manager
from pld_plugins.grid_search import WithParallelBackend, report
from pld_plugins.grid_search.dask_backend import check_backend
from pld_plugins.grid_search.search import (
    build_search,
    load_data,
    persist_best_model,
    run_grid_search,
)

IRIS_DATA = Path(__file__).resolve().parents[2] / "examples" / "iris" / "iris.data"

BASE = """{
    'dataset_loader_train': {
        '!': 'table', 'path': %(data)r, 'sep': ',', 'nrows': 100,
        'names': ['sepal length', 'sepal width', 'petal length', 'petal width', 'species'],
        'target_column': 'species',
    },
    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3},
    'model_persister': {'!': 'file', 'path': here + '/model-{version}'},
    %(extra)s
}"""

GRID = "'grid_search': {'param_grid': {'C': [0.1, 0.3, 1.0]}, 'cv': 3},"


@pytest.fixture
def make_config(tmp_path: Path):
    """``make_config(extra)``: the iris config with ``extra`` top-level entries, loaded."""
    plugins = [
        pld_plugins.dataset,
        pld_plugins.persistence,
        pld_plugins.scoring,
        pld_plugins.grid_search,
    ]

    def make(extra: str = GRID):
        path = tmp_path / "config.py"
        path.write_text(BASE % {"data": str(IRIS_DATA), "extra": extra})
        return load_config(str(path), plugins=make_plugin_manager(plugins), __mode__="fit")

    return make


def built(config):
    X, y = load_data(config, "dataset_loader_train")
    return build_search(config, config["grid_search"], X, y), X, y


def test_a_dict_entry_builds_grid_search_around_the_model(make_config):
    config = make_config()
    plan, _, _ = built(config)
    search = plan.search
    assert isinstance(search, GridSearchCV)
    assert search.estimator is config["model"]
    assert search.param_grid == {"C": [0.1, 0.3, 1.0]}
    assert search.cv == 3
    assert search.refit is False  # nothing to persist: no refit on the whole data
    assert plan.backend is None


def test_persist_best_asks_for_refit(make_config):
    config = make_config()
    X, y = load_data(config, "dataset_loader_train")
    plan = build_search(config, config["grid_search"], X, y, persist_best=True)
    assert plan.search.refit is True


def test_custom_cv_iterator_with_random_state_is_repeatable(make_config):
    config = make_config(
        "'grid_search': {'param_grid': {'C': [0.1, 1.0]}, 'cv': {"
        "'!': 'sklearn.model_selection.StratifiedKFold', 'n_splits': 3, 'shuffle': True, "
        "'random_state': 0}},"
    )
    first = run_grid_search(config)
    second = run_grid_search(config)
    assert first.search.n_splits_ == 3
    scores = [first.frame[f"split{i}_test_score"].tolist() for i in range(3)]
    assert scores == [second.frame[f"split{i}_test_score"].tolist() for i in range(3)]


def test_a_callable_cv_gets_n_and_y_at_run_time(make_config):
    config = make_config(
        "'grid_search': {'param_grid': {'C': [0.1, 1.0]}, "
        "'cv': lambda n, y: [(list(range(0, n, 2)), list(range(1, n, 2)))] * (len(y) == n)},"
    )
    plan, _, _ = built(config)
    [(train, test)] = plan.search.cv
    assert len(train) == len(test) == 50
    assert run_grid_search(config).search.n_splits_ == 1


def test_scoring_in_both_places_is_a_config_error(make_config):
    config = make_config(
        "'scoring': 'accuracy','grid_search': {'param_grid': {'C': [0.1]}, 'scoring': 'f1_macro'},"
    )
    with pytest.raises(ConfigError, match="grid_search.scoring: 'scoring' is set both") as info:
        built(config)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("where", ["global", "local"])
def test_scoring_from_either_place_goes_through_the_scorer_hook(make_config, where):
    grid = "'param_grid': {'C': [0.1, 1.0]}, 'cv': 3"
    extra = (
        f"'scoring': 'f1_macro', 'grid_search': {{{grid}}},"
        if where == "global"
        else f"'grid_search': {{{grid}, 'scoring': 'f1_macro'}},"
    )
    plan, _, _ = built(make_config(extra))
    assert "f1" in repr(plan.search.scoring)


def test_unknown_scorer_names_the_key(make_config):
    config = make_config("'grid_search': {'param_grid': {'C': [0.1]}, 'scoring': 'nope'},")
    with pytest.raises(ConfigError, match="grid_search.scoring: unknown scorer 'nope'"):
        built(config)


def test_a_model_without_score_needs_scoring(make_config):
    config = make_config(  # a later key wins in a dict literal: this replaces the model
        "'model': {'!': 'sklearn.preprocessing.StandardScaler'},"
        "'grid_search': {'param_grid': {'with_mean': [True, False]}},"
    )
    with pytest.raises(ConfigError, match="has no 'score' method; add a 'scoring' entry"):
        built(config)


def test_unknown_grid_parameters_are_config_errors(make_config):
    config = make_config("'grid_search': {'param_grid': {'D': [1, 2]}},")
    with pytest.raises(ConfigError, match=r"param_grid\.D: 'D' is not a parameter"):
        built(config)
    config = make_config("'grid_search': {'param_grid': {'C': [1]}, 'colour': 'red'},")
    with pytest.raises(ConfigError, match="bad arguments for GridSearchCV"):
        built(config)


def test_a_search_object_from_the_config_is_used_as_given(make_config):
    config = make_config(
        "'grid_search': {'!': 'sklearn.model_selection.RandomizedSearchCV', "
        "'estimator': {'__copy__': 'model'}, 'param_distributions': {'C': [0.1, 0.3, 1.0]}, "
        "'n_iter': 2, 'cv': 3, 'random_state': 0},"
    )
    plan, _, _ = built(config)
    assert plan.search is config["grid_search"]
    assert isinstance(plan.search, RandomizedSearchCV)
    result = run_grid_search(config)
    assert len(result.frame) == 2


def test_with_parallel_backend_is_unwrapped(make_config):
    config = make_config(
        "'grid_search': {'!': 'palladium.fit.with_parallel_backend', 'backend': 'threading',"
        "'estimator': {'!': 'sklearn.model_selection.GridSearchCV', "
        "'estimator': {'__copy__': 'model'}, 'param_grid': {'C': [0.1, 1.0]}, 'cv': 3}},"
    )
    assert isinstance(config["grid_search"], WithParallelBackend)
    plan, _, _ = built(config)
    assert isinstance(plan.search, GridSearchCV)
    assert plan.backend == "threading"
    assert len(run_grid_search(config).frame) == 2


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        ({}, "exactly one of"),
        ({"scheduler": "a:1", "local_cluster": {}}, "exactly one of"),
        ({"scheduler": "a:1", "timeout": 3}, "unknown option"),
        ({"local_cluster": 2}, "must be a dict"),
        (3, "joblib backend name or a dict"),
    ],
)
def test_bad_backend_values(backend, message):
    with pytest.raises(ConfigError, match=message):
        check_backend(backend, "grid_search.backend")


def test_unknown_joblib_backend_is_a_config_error(make_config):
    config = make_config("'grid_search': {'param_grid': {'C': [1.0]}, 'backend': 'nope'},")
    with pytest.raises(ConfigError, match="unknown joblib backend 'nope'"):
        run_grid_search(config)


def test_progress_counts_every_fit(make_config, caplog):
    with caplog.at_level(logging.INFO, logger="pld_plugins.grid_search.progress"):
        run_grid_search(make_config())
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("progress")]
    assert lines[-1] == "9/9 fits done"
    assert lines[0].startswith("1/9")


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_progress_counts_the_searchs_fits_not_the_estimators_own_parallel_calls(n_jobs):
    """A random forest builds its trees with joblib too, in the fits and in the refit."""
    import threading

    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV

    from pld_plugins.grid_search.progress import track_fits

    X, y = make_classification(200, 5, random_state=0)
    counts: dict[str, int] = {}

    def search(name: str, depths: list[int]) -> None:
        forest = RandomForestClassifier(n_estimators=15, n_jobs=1, random_state=0)
        grid = GridSearchCV(forest, {"max_depth": depths}, cv=2, n_jobs=n_jobs, refit=True)
        with track_fits(2 * len(depths)) as progress:
            grid.fit(X, y)
        counts[name] = progress.done

    # Two searches at once, as two /grid-search jobs would run: each keeps its own count.
    threads = [
        threading.Thread(target=search, args=("two", [2, 3])),
        threading.Thread(target=search, args=("three", [2, 3, 4])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert counts == {"two": 4, "three": 6}


def test_results_are_sorted_best_first_with_the_main_columns_first(make_config):
    result = run_grid_search(make_config())
    frame = result.frame
    assert list(frame["rank_test_score"]) == [1, 2, 3]
    assert list(frame.columns[:5]) == [
        "rank_test_score",
        "mean_test_score",
        "std_test_score",
        "params",
        "param_C",
    ]
    assert frame.columns[-1].startswith("split")
    assert result.best_params == {"C": 1.0}
    header, *rows = report.format_table(frame).splitlines()
    assert header.split()[:4] == ["rank_test_score", "mean_test_score", "std_test_score", "params"]
    assert "split0_test_score" not in header
    assert rows[0].split()[0] == "1" and len(rows) == 3


def test_ties_keep_scikit_learns_order_and_multi_metric_follows_refit():
    cv_results = {
        "params": [{"a": 1}, {"a": 2}, {"a": 3}],
        "mean_test_x": [0.5, 0.9, 0.9],
        "std_test_x": [0.1, 0.1, 0.2],
        "rank_test_x": [3, 1, 1],
        "mean_test_y": [0.9, 0.1, 0.2],
        "std_test_y": [0.0, 0.0, 0.0],
        "rank_test_y": [1, 3, 2],
        "split0_test_x": [0.5, 0.9, 0.9],
        "mean_fit_time": [0.1, 0.2, 0.3],
    }
    frame = report.results_frame(cv_results, refit="x")
    assert [p["a"] for p in frame["params"]] == [2, 3, 1]
    assert list(frame.columns[:3]) == ["rank_test_x", "mean_test_x", "std_test_x"]
    assert report.primary_metric(cv_results) == "x"
    assert [p["a"] for p in report.results_frame(cv_results, refit="y")["params"]] == [1, 3, 2]


def test_csv_holds_every_row(make_config, tmp_path):
    result = run_grid_search(make_config())
    path = tmp_path / "results.csv"
    report.write_csv(result.frame, str(path))
    header, *rows = path.read_text().splitlines()
    assert len(rows) == 3
    assert header.startswith("rank_test_score,mean_test_score,std_test_score,params")
    assert "split2_test_score" in header


def test_persist_best_writes_activates_and_records_the_results(make_config):
    config = make_config()
    result = run_grid_search(config, persist_best=True)
    version = persist_best_model(config, result)
    persister = config["model_persister"]
    assert persister.list_properties()["active-model"] == str(version)
    [info] = persister.list_models()
    assert info["model_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert info["params"]["C"] == 1.0
    assert info["feature_names"] == ["sepal length", "sepal width", "petal length", "petal width"]
    assert "scikit-learn" in info["versions"]
    records = info["cv_results"]
    assert [r["rank"] for r in records] == [1, 2, 3]
    assert records[0]["params"] == {"C": 1.0}
    assert isinstance(records[0]["mean_test_score"], float)
    assert info["grid_search"]["best_params"] == {"C": 1.0}
    assert info["grid_search"]["n_splits"] == 3
    model = persister.read()
    assert model.C == 1.0
    assert model.predict([[5.0, 3.4, 1.5, 0.2]])[0] == "Iris-setosa"


def test_persist_best_without_a_persister_fails_before_searching(make_config):
    config = make_config()
    del config["model_persister"]
    with pytest.raises(ConfigError, match="no 'model_persister' entry"):
        run_grid_search(config, persist_best=True)


def test_persist_best_refuses_refit_false(make_config):
    config = make_config("'grid_search': {'param_grid': {'C': [1.0]}, 'refit': False},")
    with pytest.raises(ConfigError, match="needs the search to refit"):
        run_grid_search(config, persist_best=True)


def test_a_local_cluster_backend_runs_the_search_and_closes(make_config):
    distributed = pytest.importorskip("distributed")
    config = make_config(
        "'grid_search': {'param_grid': {'C': [0.1, 0.3, 1.0]}, 'cv': 3, 'backend': "
        "{'local_cluster': {'n_workers': 1, 'processes': False}}},"
    )
    local = run_grid_search(make_config())
    result = run_grid_search(config)
    assert result.best_params == local.best_params == {"C": 1.0}
    with pytest.raises(ValueError):
        distributed.get_client()  # nothing left behind


def test_an_unreachable_scheduler_is_one_clear_error(make_config, unused_port):
    pytest.importorskip("distributed")
    config = make_config(
        "'grid_search': {'param_grid': {'C': [1.0]}, "
        f"'backend': {{'scheduler': '127.0.0.1:{unused_port}', 'connect_timeout': '1s'}}}},"
    )
    with pytest.raises(PldError, match=f"cannot reach the dask scheduler 127.0.0.1:{unused_port}"):
        run_grid_search(config)


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
