"""The iris tutorial end to end through the installed console scripts, as a user runs it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IRIS = REPO / "examples" / "iris"
SCRIPTS = Path(sys.executable).parent


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    command = [str(SCRIPTS / args[0]), *args[1:]]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def score(output: str) -> float:
    return float(re.search(r"score: ([0-9.]+)", output).group(1))


@pytest.fixture
def iris(tmp_path: Path) -> Path:
    folder = tmp_path / "iris"
    folder.mkdir()
    for name in ("config.py", "config-pld.py", "iris.data"):
        shutil.copy(IRIS / name, folder / name)
    return folder


@pytest.fixture
def palladium_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PALLADIUM_CONFIG"] = "config.py"
    return env


def listed_versions(listing: str) -> list[str]:
    rows = [line.split() for line in listing.splitlines()[1:] if not line.startswith("prop")]
    return [row[1] if row[0] == "*" else row[0] for row in rows]


def active_version(listing: str) -> str:
    [row] = [line for line in listing.splitlines() if line.startswith("*")]
    return row.split()[1]


@pytest.mark.slow
def test_palladium_scripts_walk_through_the_tutorial(iris, palladium_env):
    env = palladium_env
    fitted = run(["pld-fit"], iris, env)
    assert "Wrote model with version 1." in ok(fitted)
    assert "Fitting model done in" in fitted.stderr  # progress is logged with timings
    assert (iris / "iris-model.db").exists()

    tested = ok(run(["pld-test"], iris, env))
    assert "Model version 1:" in tested
    assert score(tested) >= 0.9

    assert "Wrote model with version 2." in ok(run(["pld-fit"], iris, env))
    assert "Model version 1:" in ok(run(["pld-test", "--model-version=1"], iris, env))

    listing = ok(run(["pld-list"], iris, env))
    assert listed_versions(listing) == ["1", "2"] and active_version(listing) == "2"

    assert "Activated model with version 1." in ok(run(["pld-admin", "activate", "1"], iris, env))
    assert active_version(ok(run(["pld-list"], iris, env))) == "1"
    assert "Deleted model with version 2." in ok(run(["pld-admin", "delete", "2"], iris, env))
    listing = ok(run(["pld-list"], iris, env))
    assert listed_versions(listing) == ["1"] and active_version(listing) == "1"
    assert "Wrote model with version 3." in ok(run(["pld-fit"], iris, env))

    assert re.fullmatch(r"\d+\.\d+\.\d+\S*\n", ok(run(["pld-version"], iris, env)))


@pytest.mark.slow
def test_pld_group_with_config_option_and_short_names(iris):
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    config = ["--config", str(iris / "config-pld.py")]
    elsewhere = iris.parent  # `here` makes the short-name config independent of the cwd
    assert "Wrote model with version 1." in ok(run(["pld", *config, "fit"], elsewhere, env))
    assert "Wrote model with version 2." in ok(run(["pld", *config, "fit", "-e"], elsewhere, env))
    assert score(ok(run(["pld", *config, "test"], elsewhere, env))) >= 0.9
    assert "Model version 1:" in ok(
        run(["pld", *config, "test", "--model-version", "1"], elsewhere, env)
    )
    ok(run(["pld", *config, "admin", "activate", "1"], elsewhere, env))
    ok(run(["pld", *config, "admin", "delete", "2"], elsewhere, env))
    import json

    listing = json.loads(ok(run(["pld", *config, "list", "--json"], elsewhere, env)))
    assert [m["version"] for m in listing["models"]] == [1]
    assert listing["properties"]["active-model"] == "1"
    assert listing["models"][0]["feature_names"] == [
        "sepal length",
        "sepal width",
        "petal length",
        "petal width",
    ]
    assert "scikit-learn" in listing["models"][0]["versions"]
    assert "Wrote model with version 3." in ok(run(["pld", *config, "fit"], elsewhere, env))


@pytest.mark.slow
def test_advanced_configuration(iris, tmp_path, monkeypatch):
    """Two files (later wins), __copy__, environ, here and a Pipeline defined in the config."""
    (iris / "config-model.py").write_text(
        """{
    'model': {
        '__factory__': 'sklearn.pipeline.Pipeline',
        'steps': [
            ['scale', {'__factory__': 'sklearn.preprocessing.StandardScaler'}],
            ['clf', {'__factory__': 'sklearn.linear_model.LogisticRegression',
                     'C': float(environ['IRIS_C'])}],
        ],
    },
    'dataset_loader_test': {'__copy__': 'dataset_loader_train', 'nrows': None,
                            'skiprows': 100},
    'model_persister': {'!': 'file', 'path': here + '/models/iris-{version}'},
}"""
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = "config.py, config-model.py"
    env["IRIS_C"] = "2.5"
    assert "Wrote model with version 1." in ok(run(["pld-fit"], iris, env))
    assert (iris / "models" / "iris-1.pkl.gz").exists()
    assert not (iris / "iris-model.db").exists()  # the later file's persister won
    assert score(ok(run(["pld-test"], iris, env))) >= 0.9
    import json

    [model] = json.loads(ok(run(["pld", "list", "--json"], iris, env)))["models"]
    assert model["model_class"] == "sklearn.pipeline.Pipeline"


ERRORS = [
    ("missing", None, 2, "config file not found"),
    ("syntax", "{'model': ,}", 2, "syntax error"),
    (
        "factory",
        "{'model': {'!': 'sklearn.linear_model.NoSuchModel'}}",
        2,
        "has no attribute 'NoSuchModel'",
    ),
    (
        "entry",
        "{'model': {'!': 'sklearn.linear_model.LogisticRegression'}}",
        2,
        "has no 'model_persister' entry",
    ),
    (
        "argument",
        "{'dataset_loader_train': {'!': 'table', 'path': 'x', 'bogus_arg': 1, "
        "'target_column': 'y'}, 'model': {'!': 'sklearn.linear_model.LogisticRegression', "
        "'no_such_param': 1}}",
        2,
        "bad arguments for sklearn.linear_model.LogisticRegression",
    ),
]


@pytest.mark.parametrize(("name", "text", "status", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_config_errors_are_one_line_and_exit_2(tmp_path, name, text, status, message):
    if text is not None:
        (tmp_path / "config.py").write_text(text)
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = str(tmp_path / "config.py")
    result = run(["pld-fit"], tmp_path, env)
    assert result.returncode == status
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], lines
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_runtime_errors_are_one_line_and_exit_1(iris, palladium_env):
    result = run(["pld-admin", "activate", "42"], iris, palladium_env)
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: No model with version 42 in sqlite:///iris-model.db"
    nothing = run(["pld-test"], iris, palladium_env)
    assert nothing.returncode == 1
    errors = [line for line in nothing.stderr.splitlines() if " INFO " not in line]
    assert errors == ["Error: No active model in sqlite:///iris-model.db"]
    debug = run(["pld-admin", "--debug", "activate", "42"], iris, palladium_env)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
