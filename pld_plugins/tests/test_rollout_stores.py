"""``--activate-if-better`` and ``pld rollback`` on the real stores: file, SQLite, PostgreSQL,
MariaDB (the activation history is metadata every persister keeps)."""

from __future__ import annotations

from pathlib import Path

from pld_core import load_config, run_task

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris" / "iris.data"
CONFIG = """{
    'dataset_loader_train': {
        '!': 'table', 'path': %(data)r, 'sep': ',', 'nrows': 100,
        'names': ['a', 'b', 'c', 'd', 'species'], 'target_column': 'species',
    },
    'dataset_loader_test': {'__copy__': 'dataset_loader_train', 'nrows': None, 'skiprows': 100},
    'model': %(model)s,
    'model_persister': %(store)s,
}"""
GOOD = "{'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3}"
BAD = "{'!': 'sklearn.dummy.DummyClassifier', 'strategy': 'most_frequent'}"


def _fitter(tmp_path, store: str):
    def fit(model: str, **options):
        path = tmp_path / "config.py"
        path.write_text(CONFIG % {"data": str(IRIS), "model": model, "store": store})
        config = load_config(str(path), __mode__="fit")
        result = run_task(config, "fit", **options) if options else run_task(config, "fit")
        return result, config

    return fit


def test_on_a_file_store(tmp_path):
    _only_a_better_model_is_activated_and_rollback_goes_back(
        _fitter(tmp_path, "{'!': 'file', 'path': here + '/model-{version}'}")
    )


def test_on_a_database_store(tmp_path, any_store):
    store = (
        f"{{'!': 'cached-update', 'impl': {{'!': 'database', 'url': {any_store.url!r}, "
        f"'table_postfix': {any_store.table_postfix!r}}}}}"
    )
    _only_a_better_model_is_activated_and_rollback_goes_back(_fitter(tmp_path, store))


def _only_a_better_model_is_activated_and_rollback_goes_back(fit_with):
    first, config = fit_with(GOOD)
    assert first.activated and first.version == 1
    worse, config = fit_with(BAD, activate_if_better=True)
    assert worse.version == 2 and not worse.activated
    assert worse.rollout["decision"] == "keep" and worse.rollout["active_version"] == 1
    persister = config["model_persister"]
    assert persister.list_properties()["active-model"] == "1"
    assert persister.list_models()[1]["rollout"]["decision"] == "keep"

    fit_with(BAD)  # 3, activated over 1
    better, config = fit_with(GOOD, activate_if_better=True, margin=0.1)
    assert better.activated and better.rollout["active_version"] == 3
    assert better.rollout["candidate_score"] > better.rollout["active_score"] + 0.1

    assert run_task(config, "rollback").describe() == {"rolled_back_from": 4, "active": 3}
    assert run_task(config, "rollback").describe() == {"rolled_back_from": 3, "active": 1}
    assert config["model_persister"].list_properties()["active-model"] == "1"
