"""examples/julia: the seed's Julia config (legacy names) loads, runs against the juliacall TEST
DOUBLE through pld's fit and server, and without Julia fails with one clear line from the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pld_core import load_config, use_config
from pld_julia import bridge
from pld_julia.models import ClassificationModel

pytest.importorskip("pld_plugins", reason="pld-plugins (loaders, persisters) is not installed")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "julia"
SCRIPTS = Path(sys.executable).parent
QUERY = {"sepal length": "5.1", "sepal width": "3.5", "petal length": "1.4", "petal width": "0.2"}


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/julia as the working directory (its paths are relative)."""
    folder = tmp_path / "julia"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.db", "README.md"))
    monkeypatch.chdir(folder)
    yield folder
    use_config(None)


@pytest.mark.parametrize(
    ("name", "fit_func", "predict_func"),
    [
        ("config.py", "NearestCentroid.fit", "NearestCentroid.predict"),
        ("config-svm.py", "SVM.svm", "SVM.predict"),
    ],
)
def test_legacy_config_loads_without_julia(example, no_juliacall, name, fit_func, predict_func):
    config = load_config(str(example / name), __mode__="fit")
    model = config["model"]
    assert isinstance(model, ClassificationModel)
    assert (model.fit_func, model.predict_func) == (fit_func, predict_func)
    X, y = config["dataset_loader_train"]()
    assert X.shape == (100, 4) and set(y) == {1, -1}  # the seed's converters make it binary


def test_example_fits_and_serves_through_pld(example, fake_julia, monkeypatch):
    from werkzeug.test import Client

    from pld_core import create_app, fit

    fit(load_config(str(example / "config.py"), __mode__="fit"))
    assert (example / "iris-model.db").exists()
    # serve as a new process would: a Julia session that has seen nothing yet
    monkeypatch.setattr(fake_julia, "Main", fake_julia._Main())
    monkeypatch.setattr(bridge, "_SESSION", None)
    fake_julia.calls.clear()
    use_config(None)
    client = Client(create_app(load_config(str(example / "config.py"))))
    response = client.get("/predict", query_string=QUERY)
    assert response.status_code == 200, response.json
    assert response.json["result"] == 1  # Iris-setosa
    assert response.json["metadata"]["status"] == "OK"
    names = [call.name for call in fake_julia.calls]
    assert names.index("include") < names.index("deserialize")  # restored from the bytes
    [predicted] = fake_julia.calls_to("NearestCentroid.predict")
    assert predicted.args[1].shape == (4, 1)  # one sample, as a column


def test_pld_fit_without_julia_prints_one_clear_line(example, tmp_path):
    path = str(SCRIPTS)  # pld-fit and python, and (normally) no julia
    if shutil.which("julia", path=path) or shutil.which("juliaup", path=path):
        pytest.skip(f"a Julia executable is in {path}")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON_JULIA", "PLD_", "PALLADIUM_"))
    }
    env.update(PATH=path, PALLADIUM_CONFIG="config.py")
    result = subprocess.run(
        [str(SCRIPTS / "pld-fit")],
        cwd=example,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (1, 2), result
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if " INFO " not in line]
    assert len(errors) == 1, result.stderr
    [line] = errors
    assert line.startswith(
        "Error: Julia models need juliacall and Julia: no Julia executable found."
    )
    assert "pip install juliacall" in line and "julialang.org" in line
    assert not (example / "iris-model.db").exists() or "Wrote model" not in result.stdout
