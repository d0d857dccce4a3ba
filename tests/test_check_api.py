"""``pld check-api`` finds a planted bug (a service that 500s on one input) and passes on iris.

Real processes throughout: ``pld serve`` for the service under test, ``pld check-api`` as a
user's CI runs it, and the curl line it prints sent again with curl.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pld_core import fit, load_config
from pld_core.testing import free_port, http_json, running_server

TESTS = Path(__file__).resolve().parent
IRIS = TESTS.parent / "examples" / "iris"
PLD = str(Path(sys.executable).parent / "pld")
PLANTED = """
    'predict_service': {
        '!': 'check_api_planted.PetalRatioService',
        'mapping': [('sepal length', 'float'), ('sepal width', 'float'),
                    ('petal length', 'float'), ('petal width', 'float')],
    },"""


pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    """The environment without a config of the caller's; the planted service importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return env


def check_api(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PLD, *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def planted(fitted_iris, write_iris_config, tmp_path):
    """``pld serve`` of the iris model behind the planted service; yields its URL."""
    config = write_iris_config(PLANTED)
    port = free_port()
    env = _env()
    env["PLD_CONFIG"] = str(config)
    with running_server([PLD, "serve", "--port", str(port)], port, cwd=tmp_path, env=env) as url:
        yield url


def test_check_api_finds_the_planted_bug_and_prints_a_curl_line_that_repeats_it(planted, tmp_path):
    run = check_api("check-api", planted, "--seed", "7", "--max-examples", "20", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"pld check-api: {planted}, seed 7" in run.stdout
    assert re.search(r"server error \(5xx\): \d+ — .*POST /predict", run.stdout), run.stdout
    assert "GET /predict" in run.stdout  # 0 in the query string reaches the bug too
    error = run.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("Error: "), run.stderr
    assert "failed the checks (server error (5xx)" in error[0]
    # The first failure's curl line sends the same request: the service answers 500 again.
    curl = next(line.strip() for line in run.stdout.splitlines() if "curl -X" in line)
    assert "petal" in curl
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: the printed curl line cannot be run")
    again = subprocess.run(
        ["bash", "-c", curl + " -s -o /dev/null -w '%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.stdout == "500", (curl, again.stdout, again.stderr)
    status, _ = http_json(
        f"{planted}/predict?sepal%20length=1&sepal%20width=1&petal%20length=1&petal%20width=2"
    )
    assert status == 200  # the service itself is still up


def test_paths_left_out_are_not_checked(planted, tmp_path):
    run = check_api(
        "check-api", planted, "--endpoint", "^/(alive|list)$", "--seed", "1", cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 operations" in run.stdout and "no failures" in run.stdout
    excluded = check_api(
        "check-api", planted, "--exclude", "predict", "--max-examples", "5", cwd=tmp_path
    )
    assert excluded.returncode == 0, excluded.stdout + excluded.stderr
    paths = http_json(planted + "/openapi.json")[1]["paths"]
    kept = sum(len(ops) for path, ops in paths.items() if "predict" not in path)
    assert f"{kept} operations" in excluded.stdout  # /, /alive, /list, /openapi.json, ...


def test_check_api_passes_on_the_iris_example(tmp_path):
    for name in ("config-pld.py", "iris.data"):
        shutil.copy(IRIS / name, tmp_path / name)
    config = tmp_path / "config-pld.py"
    fit(load_config(str(config), __mode__="fit"))
    run = check_api(
        "--config", str(config), "check-api", "--seed", "3", "--requests", "300", cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no failures" in run.stdout
    sent = int(re.search(r"(\d+) requests in", run.stdout).group(1))
    assert 100 <= sent <= 320  # about --requests
    kinds = run.stdout.split("sent: ", 1)[1].splitlines()[0]
    for kind in ("valid", "malformed", "non-finite number", "deeply nested JSON"):
        assert kind in kinds, kinds
    # every kind of request was sent: 200s for valid ones, 400s for malformed, 413s for big
    answers = run.stdout.split("answers: ", 1)[1].splitlines()[0]
    assert "200 ×" in answers and "400 ×" in answers and "413 ×2" in answers, answers


FIT_RULE = """
    'rules': [{'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']}],"""


def test_malformed_only_sends_no_valid_requests(fitted_iris, write_iris_config, tmp_path):
    config = write_iris_config(FIT_RULE)
    run = check_api(
        *("--config", str(config), "check-api", "--endpoint", "^/fit$", "--malformed-only"),
        *("--max-examples", "30", "--seed", "2"),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sent = run.stdout.split("sent: ", 1)[1].splitlines()[0]
    assert "1 operation," in run.stdout and "malformed" in sent and "valid" not in sent, sent


def test_nothing_at_the_url_is_a_usage_error(tmp_path):
    run = check_api("check-api", f"http://127.0.0.1:{free_port()}", cwd=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.startswith("Error: nothing answers at http://127.0.0.1:"), run.stderr
    assert run.stderr.count("\n") == 1  # one line, no traceback
    run = check_api("check-api", "localhost:5000", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr == "Error: 'localhost:5000' is not an http:// or https:// URL\n"
