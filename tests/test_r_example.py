"""examples/R end to end against real R: Palladium's R config fits, tests, persists, serves.

The console scripts are slow to start (Python, scikit-learn and R in every process): the seed
config runs through them, the other configs through the same CLI in this process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from werkzeug.test import Client

from pld_core import create_app, fit, load_config, make_cli

pytestmark = [pytest.mark.r, pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "R"
SCRIPTS = Path(sys.executable).parent
QUERY = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}
SETOSA = {"sepal length": 5.1, "sepal width": 3.5, "petal length": 1.4, "petal width": 0.2}
MAPPING = "[('sepal length', 'float'), ('sepal width', 'float'), "
MAPPING += "('petal length', 'float'), ('petal width', 'float')]"
PROBA_SERVICE = f"""{{
    'predict_proba_service': {{
        '!': 'predict-service', 'mapping': {MAPPING},
        'entry_point': '/predict-proba', 'predict_proba': True,
    }},
}}"""
# An R predict function, so that a served model calls the script at predict time.
PREDICT_FUNCTION = """
predict.iris <- function(model, x) {
    if (any(x[, 1] < 0)) stop("boom")
    predict(model, x, type = "prob")
}
"""
BROKEN = {  # overlay config, extra script: each fails while loading the training data
    "syntax": ("broken.R", "dataset <- function( {\n"),
    "missing": ("iris.R", None),
    "runtime": ("boom.R", 'dataset <- function() stop("boom")\n'),
}


def copy_example(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for path in EXAMPLE.iterdir():
        if path.is_file() and not path.name.endswith(".db"):
            shutil.copy(path, folder / path.name)
    return folder


def environment(config: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PALLADIUM_CONFIG"] = config
    return env


def start(args: list[str], cwd: Path, config: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(SCRIPTS / args[0]), *args[1:]],
        cwd=cwd,
        env=environment(config),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, stdin: str = "") -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(stdin, timeout=180)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def score(output: str, name: str = "score") -> float:
    return float(re.search(rf"{name}: ([0-9.]+)", output).group(1))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The console-script runs on the seed config: fit, then test and stream in parallel."""
    seed = copy_example(tmp_path_factory.mktemp("r-example") / "seed")
    results: dict[str, Any] = {"seed": seed}
    results["fit"] = finish(start(["pld-fit"], seed, "config-iris.py"))
    processes = {
        "test": start(["pld-test"], seed, "config-iris.py"),
        "stream": start(["pld-stream"], seed, "config-iris.py"),
    }
    lines = {"stream": f"{json.dumps([QUERY, SETOSA])}\n"}
    results.update({name: finish(p, lines.get(name, "")) for name, p in processes.items()})
    return results


def pld(folder: Path, config: str, *args: str) -> Result:
    """``pld --config <config> <args>`` in this process, from ``folder`` (R is running here)."""
    with contextlib.chdir(folder):
        return CliRunner().invoke(make_cli(), ["--config", config, *args], env=environment(""))


def test_seed_config_fits_tests_and_persists_to_sqlite(runs):
    assert "Wrote model with version 1." in ok(runs["fit"])
    assert "Activated model with version 1." in runs["fit"].stdout
    assert (runs["seed"] / "iris-model.db").exists()
    tested = ok(runs["test"])
    assert "Model version 1:" in tested and score(tested) >= 0.9


def test_seed_model_serves_labels_and_probabilities(runs, monkeypatch):
    monkeypatch.chdir(runs["seed"])
    (runs["seed"] / "config-proba.py").write_text(PROBA_SERVICE)
    client = Client(create_app(load_config("config-iris.py,config-proba.py")))
    answer = client.get("/predict", query_string=QUERY)
    assert answer.status_code == 200, answer.json
    assert answer.json["result"] == "versicolor"
    assert answer.json["metadata"]["service_name"] == "iris"
    assert client.post("/predict", json=[QUERY, SETOSA]).json["result"] == [
        "versicolor",
        "setosa",
    ]
    proba = client.get("/predict-proba", query_string=QUERY).json["result"]
    assert len(proba) == 3 and sum(proba) == pytest.approx(1.0)
    assert max(range(3), key=proba.__getitem__) == 1  # setosa, versicolor, virginica
    assert client.get("/alive").status_code == 200


def test_stream_answers_with_the_r_model(runs):
    assert ok(runs["stream"]).splitlines() == ['["versicolor","setosa"]']


@pytest.mark.parametrize(
    "overlay", ["config-iris-dataset-from-python.py", "config-iris-sklearn-model.py"]
)
def test_python_loader_with_r_model_and_r_loader_with_sklearn_model(tmp_path, overlay):
    folder = copy_example(tmp_path / "example")
    result = pld(folder, f"config-iris.py,{overlay}", "fit", "--evaluate")
    assert result.exit_code == 0, result.output
    assert "Wrote model with version 1." in result.stdout
    assert score(result.stdout, "test_score") >= 0.9


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "syntax",
            r"Error: R error sourcing broken\.R \(for dataset\(\)\): .*:1:22: unexpected '{'.*",
        ),
        ("missing", r"Error: R script iris\.R defines no function no\.such\.dataset\(\)"),
        ("runtime", r"Error: R error in dataset\(\) of boom\.R: boom"),
    ],
)
def test_broken_r_scripts_give_one_error_line(tmp_path, name, message):
    folder = copy_example(tmp_path / "example")
    scriptname, text = BROKEN[name]
    if text is not None:
        (folder / scriptname).write_text(text)
    funcname = "no.such.dataset" if name == "missing" else "dataset"
    (folder / "config-broken.py").write_text(
        "{'dataset_loader_train': {'!': 'r-dataset', "
        f"'scriptname': {scriptname!r}, 'funcname': {funcname!r}}}}}"
    )
    result = pld(folder, "config-iris.py,config-broken.py", "fit")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if "Error" in line] == [
        result.stderr.strip()
    ]
    assert re.fullmatch(message, result.stderr.strip()), result.stderr


def test_server_answers_r_errors_with_json_500_and_keeps_serving(tmp_path, monkeypatch):
    good = tmp_path / "good"
    copy_example(good)
    with (good / "iris.R").open("a") as script:
        script.write(PREDICT_FUNCTION)
    (good / "config-predict.py").write_text(
        "{'model': {'!': 'r-classifier', 'scriptname': 'iris.R', "
        "'funcname': 'train.randomForest', 'predict_funcname': 'predict.iris'}}"
    )
    configs = "config-iris.py,config-predict.py"
    monkeypatch.chdir(good)
    fit(load_config(configs, __mode__="fit"))
    iris_r = (good / "iris.R").read_text()

    def serve(name: str, script: str) -> Client:
        folder = tmp_path / name
        shutil.copytree(good, folder)
        (folder / "iris.R").write_text(script)
        monkeypatch.chdir(folder)
        return Client(create_app(load_config(configs)))

    def error(response) -> str:
        assert response.status_code == 500 and response.mimetype == "application/json"
        assert response.json["metadata"]["status"] == "ERROR"
        return response.json["metadata"]["error_message"]

    runtime = serve("runtime", iris_r)
    assert error(runtime.get("/predict", query_string={**QUERY, "sepal length": -1})) == (
        "RError: R error in predict.iris() of iris.R: boom"
    )
    assert runtime.get("/predict", query_string=QUERY).json["result"] == "versicolor"

    missing = serve("missing", iris_r.replace("predict.iris <-", "other.name <-"))
    assert error(missing.get("/predict", query_string=QUERY)) == (
        "RError: R script iris.R defines no function predict.iris()"
    )
    assert missing.get("/alive").status_code == 200

    syntax = serve("syntax", iris_r + "\nbroken <- function( {\n")
    message = error(syntax.get("/predict", query_string=QUERY))
    assert message.startswith("RError: R error sourcing iris.R (for predict.iris()): ")
    assert syntax.get("/alive").status_code == 200
    (tmp_path / "syntax" / "iris.R").write_text(iris_r)  # fixed: the next request succeeds
    assert syntax.get("/predict", query_string=QUERY).json["result"] == "versicolor"
