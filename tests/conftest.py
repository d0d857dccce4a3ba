"""Shared fixtures for the integration tests: a fitted iris store and configs that use it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pld_core import fit, load_config, process_store, use_config
from pld_plugins.persistence.schedule import RruleThread

REPO = Path(__file__).resolve().parents[1]
IRIS_DATA = REPO / "examples" / "iris" / "iris.data"

IRIS_CONFIG = """{
    'service_metadata': {'service_name': 'iris', 'service_version': '0.1'},
    'dataset_loader_train': {
        '!': 'table', 'path': %(data)r, 'sep': ',', 'nrows': 100,
        'names': ['sepal length', 'sepal width', 'petal length', 'petal width', 'species'],
        'target_column': 'species',
    },
    'dataset_loader_test': {'__copy__': 'dataset_loader_train', 'nrows': None, 'skiprows': 100},
    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3},
    'model_persister': {
        '!': 'cached-update', 'impl': {'!': 'file', 'path': here + '/model-{version}'},
    },
    'predict_service': {
        '!': 'predict-service',
        'mapping': [('sepal length', 'float'), ('sepal width', 'float'),
                    ('petal length', 'float'), ('petal width', 'float')],
    },
    'alive': {'process_store_required': ['model_persister']},
}"""


@pytest.fixture(scope="session")
def iris_config_text() -> str:
    """The iris serving config text (File store in the config's folder)."""
    return IRIS_CONFIG % {"data": str(IRIS_DATA)}


@pytest.fixture
def iris_config_path(tmp_path: Path) -> Path:
    """A config for the iris example in tmp_path; ``extra`` entries can be appended."""
    path = tmp_path / "config.py"
    path.write_text(IRIS_CONFIG % {"data": str(IRIS_DATA)})
    return path


@pytest.fixture
def write_iris_config(tmp_path: Path):
    """``write_iris_config(extra)``: the iris config in tmp_path with ``extra`` entries added."""

    def write(extra: str = "") -> Path:
        text = IRIS_CONFIG % {"data": str(IRIS_DATA)}
        if extra:
            text = text.rstrip()[:-1] + extra + "\n}"
        path = tmp_path / "config.py"
        path.write_text(text)
        return path

    return write


@pytest.fixture
def fitted_iris(iris_config_path: Path) -> Path:
    """The iris config with one fitted, active model version."""
    fit(load_config(str(iris_config_path), __mode__="fit"))
    return iris_config_path


@pytest.fixture(autouse=True)
def _clean_process_state():
    """Serving state lives in the process store: every test starts and ends without it.

    Reload schedules a test started (a cached-update store's rrule thread) are stopped too:
    left running, they write their errors into a later test's process store.
    """
    process_store.clear()
    use_config(None)
    before = set(threading.enumerate())
    yield
    for value in list(process_store.values()):
        stop = getattr(value, "stop", None)
        if callable(stop):
            stop()
    for thread in set(threading.enumerate()) - before:
        if isinstance(thread, RruleThread):
            thread.stop()
    process_store.clear()
    use_config(None)
