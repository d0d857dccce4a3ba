"""Entry-point discovery with everything installed, including the third-party example plugin.

The example plugin (examples/pld-example-persister) is pip-installed like any third-party
distribution by the set-up step; here it must be found, listed and usable from a config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pld_core import DEFAULT_PLUGINS

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = Path(sys.executable).parent


def pld(*args: str, env_extra: dict[str, str] | None = None, cwd: Path | None = None):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG", "PLD_LOAD_PLUGINS", "PLD_DISABLE_PLUGINS")
    }
    env.update(env_extra or {})
    return subprocess.run(
        [str(SCRIPTS / "pld"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def plugins(**env: str) -> dict[str, dict]:
    result = pld("plugins", "--json", env_extra=env)
    assert result.returncode == 0, result.stderr
    return {plugin["name"]: plugin for plugin in json.loads(result.stdout)}


def test_pld_plugins_lists_every_installed_distribution():
    found = plugins()
    example = found["pld_example_persister"]
    assert example["distribution"] == "pld-example-persister"
    assert example["version"] == "0.1.0"
    assert example["hooks"] == ["pld_register_persisters"]
    assert example["components"] == ["zip"]
    assert "palladium.persistence.Database" in found["pld_plugins.persistence"]["components"]
    assert "palladium.dataset.Table" in found["pld_plugins.dataset"]["components"]
    assert {
        "scheduled",
        "diskcache",
        "palladium.cache.picklediskcache",
        "compute_key_attrs",
    } <= set(found["pld_plugins.dataset"]["components"])
    assert "palladium.persistence.Rest" in found["pld_plugins.persistence"]["components"]
    assert found["pld_plugins.scoring"]["hooks"] == ["pld_make_scorer"]
    assert found["pld_core.default_plugins.training"]["tasks"] == ["fit", "rollback", "test"]
    assert found["pld_plugins.grid_search"]["tasks"] == ["grid-search"]
    assert example["tasks"] == []
    assert {"pld_r", "pld_julia", "pld_core.hook_defaults", *DEFAULT_PLUGINS} <= set(found)


def test_disable_and_load_plugins_variables():
    assert "pld_example_persister" not in plugins(PLD_DISABLE_PLUGINS="pld_example_persister")
    only = plugins(PLD_LOAD_PLUGINS="pld_example_persister, pld_plugins.dataset")
    defaults = {"pld_core.hook_defaults", *DEFAULT_PLUGINS}
    assert set(only) == {*defaults, "pld_example_persister", "pld_plugins.dataset"}
    assert set(plugins(PLD_LOAD_PLUGINS="")) == defaults


def test_plugins_text_output_names_distribution_and_components():
    result = pld("plugins")
    assert "pld_example_persister (pld-example-persister 0.1.0)\n" in result.stdout
    assert "  components: zip\n" in result.stdout
    assert "pld_plugins.grid_search (pld-plugins " in result.stdout
    assert "  tasks: grid-search\n" in result.stdout


@pytest.fixture
def zip_config(tmp_path: Path) -> Path:
    iris = REPO / "examples" / "iris"
    config = tmp_path / "config.py"
    config.write_text(
        f"""{{
    'dataset_loader_train': {{
        '!': 'table', 'path': {str(iris / "iris.data")!r}, 'sep': ',', 'nrows': 100,
        'names': ['sl', 'sw', 'pl', 'pw', 'species'], 'target_column': 'species',
    }},
    'dataset_loader_test': {{'__copy__': 'dataset_loader_train', 'nrows': None,
                             'skiprows': 100}},
    'model': {{'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3}},
    'model_persister': {{'!': 'zip', 'path': here + '/models.zip'}},
}}"""
    )
    return config


@pytest.mark.slow
def test_a_config_naming_the_third_party_persister_fits_and_tests(zip_config, tmp_path):
    fitted = pld("--config", str(zip_config), "fit")
    assert fitted.returncode == 0, fitted.stderr
    assert "Wrote model with version 1." in fitted.stdout
    assert (tmp_path / "models.zip").exists()
    tested = pld("--config", str(zip_config), "test")
    assert tested.returncode == 0, tested.stderr
    assert "Model version 1:" in tested.stdout
    assert float(tested.stdout.split("score:")[1]) >= 0.9


def test_a_disabled_plugin_makes_its_component_name_unknown(zip_config):
    result = pld(
        "--config",
        str(zip_config),
        "fit",
        env_extra={"PLD_DISABLE_PLUGINS": "pld_example_persister"},
    )
    assert result.returncode == 2
    assert "unknown factory 'zip'" in result.stderr
    assert "Traceback" not in result.stderr
