"""A Palladium 1.2 project runs unchanged (issue 17): its own DatasetLoader subclass, the
deployment guide's Flask Basic Auth decorator and a fit decorator writing attachments, through
Palladium's scripts (pld-fit, pld-test, pld-list), its Python API and ``gunicorn
palladium.wsgi:app`` — real processes, real gunicorn."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pld_core.testing import free_port

pytest.importorskip("flask", reason="flask is not installed (mybasicauth.py imports it)")
pytest.importorskip("palladium.server", reason="pld-palladium is not installed")

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
CREDENTIALS = "Basic " + base64.b64encode(b"admin:secret").decode()
REPORT = "trained on 100 samples: ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica']\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(HERE, folder, ignore=shutil.ignore_patterns("test_*", "__pycache__"))
    return folder


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PYTHONPATH")}
    env["PALLADIUM_CONFIG"] = "config.py"
    return env


def run(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result


def get(url: str, auth: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(), dict(error.headers)


@contextmanager
def gunicorn(project: Path) -> Iterator[str]:
    """``gunicorn palladium.wsgi:app`` in ``project``, as the deployment guide runs it."""
    port = free_port()
    command = [str(BIN / "gunicorn"), "palladium.wsgi:app", "--bind", f"127.0.0.1:{port}"]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(command, cwd=project, env=environment(), stderr=stderr)
        try:
            deadline = time.monotonic() + 90
            while True:
                if process.poll() is not None:
                    stderr.seek(0)
                    raise AssertionError(f"gunicorn exited: {stderr.read()}")
                try:
                    get(base + "/alive")
                    break
                except OSError:
                    assert time.monotonic() < deadline, "gunicorn did not answer in 90 s"
                    time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.slow
def test_fit_test_and_serve_under_gunicorn(project: Path) -> None:
    run(project, "pld-fit", "--evaluate")
    assert (project / "iris-model-1.pkl.gz").is_file()
    # the fit decorator's attachment: its own file, kept out of the metadata JSON
    assert (project / "iris-model-1-report.txt").read_text() == REPORT
    document = json.loads((project / "iris-model-metadata.json").read_text())
    assert document["models"][0]["__attachments__"] == ["attachments/report.txt"]
    assert "attachments/report.txt" not in document["models"][0]
    tested = run(project, "pld-test")
    assert "Model version 1" in tested.stdout

    with gunicorn(project) as base:
        status, _body, headers = get(base + "/alive")
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Basic realm="Login Required"'
        status, body, _ = get(base + "/alive", CREDENTIALS)
        assert status == 200
        alive = json.loads(body)
        assert alive["service_metadata"]["service_name"] == "iris"
        attached = alive["model_persister"]["metadata"]["attachments/report.txt"]
        assert base64.b64decode(attached).decode() == REPORT
        assert get(f"{base}/predict?{QUERY}")[0] == 401
        status, body, _ = get(f"{base}/predict?{QUERY}", CREDENTIALS)
        assert status == 200, body
        assert json.loads(body)["result"] == "Iris-versicolor"


def test_the_python_api_of_palladium(project: Path) -> None:
    """The FAQ's interactive recipe and Palladium's entry functions, in a fresh interpreter."""
    code = textwrap.dedent(
        """
        from palladium.util import initialize_config, args_from_config
        from palladium.fit import fit
        from palladium.eval import test

        config = initialize_config(__mode__='fit')
        X, y = config['dataset_loader_train']()
        assert X.shape == (100, 4), X.shape
        model = fit(evaluate=True)
        assert model.__metadata__['version'] == 1
        print(test())

        @args_from_config
        def persisted(model_persister):
            return [m['version'] for m in model_persister.list_models()]

        print(persisted())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    scores, versions = result.stdout.splitlines()[-2:]
    assert scores.startswith("['score: ") and versions == "[1]"
