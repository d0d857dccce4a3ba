"""Every guarded endpoint answers 401 without credentials and 200 with them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from werkzeug.test import Client

from pld_core import create_app, fit, load_config, process_store

HERE = Path(__file__).resolve().parent
IRIS = HERE.parent / "iris"
QUERY = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}
GUARDED = [
    ("GET", "/predict", {"query_string": QUERY}),
    ("GET", "/alive", {}),
    ("GET", "/list", {}),
    ("POST", "/fit", {"data": {"activate": "false"}}),
    ("POST", "/update-model-cache", {}),
    ("POST", "/activate", {"data": {"model_version": "1"}}),
]


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("PLD_BASIC_AUTH_USER", "admin")
    monkeypatch.setenv("PLD_BASIC_AUTH_PASSWORD", "s3cret")
    monkeypatch.chdir(tmp_path)
    for name in ("config.py", "iris.data"):
        shutil.copy(IRIS / name, tmp_path / name)
    configs = [str(tmp_path / "config.py"), str(HERE / "config-auth.py")]
    process_store.clear()
    fit(load_config(configs, __mode__="fit"))
    yield Client(create_app(load_config(configs)))
    process_store.clear()
    sys.path[:] = [p for p in sys.path if p != str(HERE)]


@pytest.mark.parametrize(("method", "path", "kwargs"), GUARDED, ids=[g[1] for g in GUARDED])
def test_guarded_endpoints(client, method, path, kwargs):
    anonymous = client.open(path, method=method, **kwargs)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="pld"'
    assert anonymous.json["metadata"]["status"] == "ERROR"

    wrong = client.open(path, method=method, auth=("admin", "guess"), **kwargs)
    assert wrong.status_code == 401

    allowed = client.open(path, method=method, auth=("admin", "s3cret"), **kwargs)
    assert allowed.status_code == 200, allowed.get_data(as_text=True)
