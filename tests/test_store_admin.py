"""``pld export`` and ``pld upgrade`` through the real scripts, on real stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.test import Client

from pld_core import create_app, load_config

SCRIPTS = Path(sys.executable).parent
EXPORT = """
    'model_persister_export': {'!': 'database', 'url': 'sqlite:///' + here + '/export.db'},"""


def run(*args: str, config: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = str(config)
    return subprocess.run(
        [str(SCRIPTS / args[0]), *args[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
    )


@pytest.mark.slow
def test_export_honours_version_and_no_activate(write_iris_config):
    config = write_iris_config(EXPORT)  # the source is a cached-update persister over File
    for expected in (1, 2):
        assert f"Wrote model with version {expected}." in run("pld-fit", config=config).stdout

    first = run("pld-export", "--version", "1", config=config)
    assert first.returncode == 0, first.stderr
    assert "Exported model version 1 as version 1." in first.stdout
    second = run("pld", "export", "--no-activate", config=config)
    assert "Exported model version 2 as version 2." in second.stdout

    target = load_config(str(config), __mode__="fit")["model_persister_export"]
    assert target.list_properties()["active-model"] == "1"
    models = target.list_models()
    assert [m["version"] for m in models] == [1, 2]
    assert models[0]["params"]["C"] == 0.3
    assert target.read(2).predict([[6.3, 2.5, 4.9, 1.5]])[0] == "Iris-versicolor"

    missing = run("pld-export", "--version", "9", config=config)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1].startswith("Error: No model with version 9")


def test_export_without_a_target_is_a_config_error(fitted_iris):
    result = run("pld-export", config=fitted_iris)
    assert result.returncode == 2
    assert "has no 'model_persister_export' entry" in result.stderr


def test_a_palladium_0_9_store_upgrades_and_then_serves(fitted_iris, tmp_path):
    # Palladium before 1.0 kept only a JSON list of model metadata: no properties at all.
    metadata_path = tmp_path / "model-metadata.json"
    models = json.loads(metadata_path.read_text())["models"]
    metadata_path.write_text(json.dumps(models))
    assert Client(create_app(load_config(str(fitted_iris)))).get("/alive").status_code == 503

    result = run("pld-upgrade", "--from", "0.9.1", config=fitted_iris)
    assert result.returncode == 0, result.stderr
    assert "schema version is now 1.0" in result.stdout
    stored = json.loads(metadata_path.read_text())
    assert stored["properties"]["active-model"] == "1"
    assert stored["properties"]["db-version"] == "1.0"

    client = Client(create_app(load_config(str(fitted_iris))))
    query = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}
    assert client.get("/predict", query_string=query).json["result"] == "Iris-versicolor"
