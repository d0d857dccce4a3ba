"""End to end with real Julia through juliacall: fit, predict, persist, reload, serve.

These run only where a ``julia`` executable is on PATH and juliacall imports; elsewhere each is
skipped with a one-line reason. (On pld's own CI machines no Julia can be installed, so they are
skipped there: the Python side is covered against the test double in the other modules.)
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pld_julia import bridge
from pld_julia.models import ClassificationModel, RegressionModel

pytestmark = pytest.mark.julia

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "julia"
SCRIPTS = Path(sys.executable).parent


def missing_julia() -> str | None:
    """Why the real tests cannot run here, or ``None`` when Julia and juliacall are present."""
    if shutil.which("julia") is None:
        return "julia executable not found on PATH"
    if importlib.util.find_spec("juliacall") is None:
        return "juliacall not installed"
    return None


@pytest.fixture
def real_julia(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real juliacall with Julia started, or a skip saying what is missing."""
    reason = missing_julia()
    if reason:
        pytest.skip(reason)
    try:
        import juliacall  # starts Julia; reached only when a julia executable is on PATH
    except Exception as exc:
        pytest.skip(f"juliacall did not import: {str(exc).strip().splitlines()[0]}")
    session = bridge._SESSION
    if session is not None and session.juliacall is not juliacall:
        monkeypatch.setattr(bridge, "_SESSION", None)


def centroid_model(**params) -> ClassificationModel:
    return ClassificationModel(
        "NearestCentroid.fit",
        "NearestCentroid.predict",
        julia_file=str(EXAMPLE / "nearest_centroid.jl"),
        **params,
    )


def test_fit_predict_score(real_julia, iris):
    X, y = iris
    model = centroid_model(encode_labels=True, fit_kwargs={"shrinkage": 0.1})
    model.fit(X[:100], y[:100])
    predictions = model.predict(X[100:])
    assert isinstance(predictions, np.ndarray) and predictions.shape == (50,)
    assert set(predictions) <= set(y)
    assert model.score(X[100:], y[100:]) >= 0.9


def test_julia_error_is_named(real_julia, iris):
    X, y = iris
    model = centroid_model(encode_labels=True, fit_kwargs={"shrinkage": 2.0})
    with pytest.raises(bridge.JuliaFunctionError, match=r"NearestCentroid\.fit failed: DomainE"):
        model.fit(X, y)


def test_regression_with_a_julia_file(real_julia, tmp_path):
    source = tmp_path / "lsq.jl"
    source.write_text(
        textwrap.dedent(
            """
            module LeastSquaresFile
            struct Fit
                coef::Vector{Float64}
            end
            fit(X, y) = Fit(vcat(X, ones(1, size(X, 2)))' \\ Vector{Float64}(y))
            predict(f::Fit, X) = vcat(X, ones(1, size(X, 2)))' * f.coef
            end
            """
        )
    )
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = X @ np.array([2.0, -1.0]) + 0.5
    model = RegressionModel(
        "LeastSquaresFile.fit", "LeastSquaresFile.predict", julia_file=str(source)
    )
    assert model.fit(X, y).score(X, y) == pytest.approx(1.0)


def test_persist_and_reload_in_a_new_process(real_julia, iris, tmp_path):
    X, y = iris
    model = centroid_model(encode_labels=True).fit(X[:100], y[:100])
    expected = model.predict(X[100:])
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    np.save(tmp_path / "X.npy", X[100:])
    code = (
        "import pickle, sys, numpy as np\n"
        f"model = pickle.loads(open({str(tmp_path / 'model.pkl')!r}, 'rb').read())\n"
        f"print('|'.join(model.predict(np.load({str(tmp_path / 'X.npy')!r}))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split("|") == list(expected)


def test_example_fits_tests_and_serves(real_julia, tmp_path, monkeypatch):
    pytest.importorskip("pld_plugins", reason="pld-plugins is not installed")
    from werkzeug.test import Client

    from pld_core import create_app, load_config, use_config

    folder = tmp_path / "julia"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.db"))
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PALLADIUM_CONFIG"] = "config.py"
    for script, expected in (("pld-fit", "Wrote model with version 1."), ("pld-test", "score")):
        result = subprocess.run(
            [str(SCRIPTS / script)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout

    monkeypatch.chdir(folder)
    try:
        client = Client(create_app(load_config(str(folder / "config.py"))))
        response = client.get(
            "/predict",
            query_string={
                "sepal length": "5.1",
                "sepal width": "3.5",
                "petal length": "1.4",
                "petal width": "0.2",
            },
        )
        assert response.status_code == 200, response.json
        assert response.json["result"] == 1  # Iris-setosa, as the config's converter encodes it
    finally:
        use_config(None)
