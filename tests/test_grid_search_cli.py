"""The seed's iris grid search through the installed `pld-grid-search` script, local and dask,
and the same search started over HTTP.

The dask tests start a real ``LocalCluster`` of two single-threaded worker processes on
127.0.0.1 and point the command at its scheduler, as a user points it at a cluster. The HTTP
tests run a real ``pld serve`` with ``url-rule`` entries for ``/fit`` and ``/grid-search``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pld_core.testing import free_port, http_json, running_server

REPO = Path(__file__).resolve().parents[1]
IRIS = REPO / "examples" / "iris"
SCRIPTS = Path(sys.executable).parent

# The seed config leaves cv at scikit-learn's default; the tutorial's search uses 3 folds.
THREE_FOLDS = "{'grid_search': {'param_grid': {'C': [0.1, 0.3, 1.0]}, 'cv': 3, 'verbose': 4}}"


pytestmark = pytest.mark.slow


def run(folder: Path, *args: str, config: str = "config.py,folds.py", timeout: float = 120):
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PALLADIUM_CONFIG"] = config
    command = [str(SCRIPTS / args[0]), *args[1:]]
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def table(stdout: str) -> list[dict[str, str]]:
    """The results table's rows as dicts (``params`` holds spaces, so it is parsed apart)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    header = lines[0].split()
    rows = []
    for line in lines[1:]:
        if not line.lstrip()[:1].isdigit():
            break
        before, _, rest = line.partition("{")
        params, _, after = rest.partition("}")
        cells = [*before.split(), "{" + params + "}", *after.split()]
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


@pytest.fixture
def iris(tmp_path: Path) -> Path:
    folder = tmp_path / "iris"
    folder.mkdir()
    for name in ("config.py", "iris.data"):
        shutil.copy(IRIS / name, folder / name)
    (folder / "folds.py").write_text(THREE_FOLDS)
    return folder


def with_backend(folder: Path, backend: str) -> None:
    (folder / "dask_backend.py").write_text(
        "{'grid_search': {'param_grid': {'C': [0.1, 0.3, 1.0]}, 'cv': 3, "
        f"'backend': {backend}}}}}"
    )


def test_prints_the_table_best_row_first(iris: Path):
    result = run(iris, "pld-grid-search")
    rows = table(ok(result))
    assert [row["rank_test_score"] for row in rows] == ["1", "2", "3"]
    assert rows[0]["params"] == "{'C': 1.0}"
    assert float(rows[0]["mean_test_score"]) == max(float(r["mean_test_score"]) for r in rows)
    assert "[CV " not in result.stdout  # scikit-learn's verbose lines go to stderr
    assert "[CV 3/3" in result.stderr
    assert "9/9 fits done" in result.stderr


def test_save_results_and_persist_best(iris: Path):
    stdout = ok(run(iris, "pld-grid-search", "--save-results", "results.csv", "--persist-best"))
    assert stdout.splitlines()[-2:] == [
        "Wrote model with version 1.",
        "Activated model with version 1.",
    ]
    with open(iris / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    assert [row["rank_test_score"] for row in rows] == ["1", "2", "3"]

    listing = json.loads(ok(run(iris, "pld", "list", "--json")))
    assert listing["properties"]["active-model"] == "1"
    [model] = listing["models"]
    assert [r["params"]["C"] for r in model["cv_results"]] == [1.0, 0.3, 0.1]
    assert model["grid_search"]["best_params"] == {"C": 1.0}
    assert "Model version 1:" in ok(run(iris, "pld-test"))


def test_config_errors_are_one_line(iris: Path):
    (iris / "bad.py").write_text(
        "{'scoring': 'accuracy', 'grid_search': {'param_grid': {'C': [1.0]}, "
        "'scoring': 'f1_macro'}}"
    )
    result = run(iris, "pld", "grid-search", config="config.py,bad.py")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("Error: bad.py: grid_search.scoring: ")
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A LocalCluster of two single-threaded worker processes on 127.0.0.1."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # None still binds :8787; a clash warns
        ) as local_cluster,
    ):
        yield local_cluster.scheduler_address


def test_dask_cluster_finds_the_same_best_parameters(iris: Path, cluster: str):
    from pld_core import load_config
    from pld_plugins.grid_search.search import run_grid_search

    here = os.getcwd()
    os.chdir(iris)  # the seed config names iris.data relative to the working directory
    try:
        local = run_grid_search(load_config("config.py,folds.py", __mode__="fit")).frame
    finally:
        os.chdir(here)
    with_backend(iris, f"{{'scheduler': {cluster!r}}}")
    result = run(iris, "pld", "grid-search", config="config.py,dask_backend.py")
    remote = table(ok(result))
    assert remote[0]["params"] == str(local["params"][0]) == "{'C': 1.0}"
    expected = [f"{score:.6f}" for score in local["mean_test_score"]]
    assert [r["mean_test_score"] for r in remote] == expected
    assert "9/9 fits done" in result.stderr


def test_palladium_faq_form_runs_on_the_cluster(iris: Path, cluster: str):
    (iris / "faq.py").write_text(
        f"""{{
    '_init_client': {{'!': 'dask.distributed.Client', 'address': {cluster!r}}},
    'grid_search': {{
        '__factory__': 'palladium.fit.with_parallel_backend',
        'estimator': {{
            '__factory__': 'sklearn.model_selection.GridSearchCV',
            'estimator': {{'__copy__': 'model'}},
            'param_grid': {{'C': [0.1, 0.3, 1.0]}},
            'cv': 3,
            'refit': False,
        }},
        'backend': 'dask',
    }},
}}"""
    )
    result = run(iris, "pld-grid-search", config="config.py,faq.py")
    assert table(ok(result))[0]["params"] == "{'C': 1.0}"
    assert "9/9 fits done" in result.stderr


def test_an_unreachable_scheduler_fails_fast_with_one_line(iris: Path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with_backend(iris, f"{{'scheduler': '127.0.0.1:{port}'}}")
    result = run(iris, "pld-grid-search", config="config.py,dask_backend.py", timeout=60)
    assert result.returncode in (1, 2)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: cannot reach the dask scheduler 127.0.0.1:{port} (within 5s): "
        f"Timed out trying to connect to tcp://127.0.0.1:{port} after 5 s"
    ]
    assert "Traceback" not in result.stderr
    # From the start of the search (importing distributed, connecting) to the error; the
    # interpreter's start-up and importing scikit-learn for the config come before it.
    failed_after = re.search(r"Searching failed after ([0-9.]+) s", result.stderr)
    assert failed_after is not None and float(failed_after.group(1)) < 10


RULES = """{
    'task_rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/grid-search', 'view_func': 'grid-search',
         'methods': ['POST']},
    ],
}"""


def finished_job(base: str, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http_json(f"{base}/alive")[1]["process_metadata"]["jobs"][job_id]
        if job["status"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still running after {timeout} s")


@pytest.fixture
def server(iris: Path) -> Iterator[str]:
    """``pld serve`` with the task endpoints, on a free port of 127.0.0.1."""
    (iris / "rules.py").write_text(RULES)
    ok(run(iris, "pld-fit"))  # version 1, so the service starts with a model
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = "config.py,folds.py,rules.py"
    command = [str(SCRIPTS / "pld"), "serve", "--port", str(port)]
    with running_server(command, port, cwd=iris, env=env) as base:
        yield base


def test_grid_search_over_http_matches_the_cli(iris: Path, server: str):
    cli_rows = table(ok(run(iris, "pld-grid-search")))

    status, started = http_json(f"{server}/grid-search", {"persist_best": True})
    assert status == 200, started
    job = finished_job(server, started["job_id"])
    assert job["status"] == "finished", job
    assert job["func"] == "grid-search"
    assert job["params"] == {"persist_best": True}
    assert job["progress"] == {"stage": "Writing model", "done": 9, "total": 9}
    info = job["info"]
    assert str(info["best_params"]) == cli_rows[0]["params"] == "{'C': 1.0}"
    assert [f"{r['mean_test_score']:.6f}" for r in info["results"]] == [
        row["mean_test_score"] for row in cli_rows
    ]
    assert (info["n_candidates"], info["version"], info["activated"]) == (3, 2, True)

    listing = http_json(f"{server}/list")[1]
    assert listing["properties"]["active-model"] == "2"
    assert listing["models"][1]["grid_search"]["best_params"] == {"C": 1.0}


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/grid-search", {"save_results": "/tmp/x.csv"}, "unknown option(s) for grid-search"),
        ("/fit", {"evaluate": "maybe"}, "evaluate must be true or false, not 'maybe'"),
        ("/grid-search", {"persist_best": 1}, "persist_best must be true or false, not 1"),
    ],
)
def test_bad_task_options_are_json_400s_and_start_nothing(server, path, body, message):
    status, answer = http_json(f"{server}{path}", body)
    assert status == 400
    assert message in answer["metadata"]["error_message"]
    assert http_json(f"{server}/alive")[1]["process_metadata"].get("jobs", {}) == {}
