"""examples/R served for real: gunicorn workers, GET, POST, `pld stream`, `pld predict`, R errors.

One fit of the example config (with an overlay whose predict function can fail on purpose)
feeds every test. The R script of the copy also writes a file named by the process id each
time it is sourced, which shows where and when R was started.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy
import pytest

from pld_core.testing import free_port, http_json, running_server

pytestmark = pytest.mark.r

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
GUARDED = """
# Added by pld-r's serving tests.
writeLines(tempdir(), file.path(Sys.getenv("PLD_R_SOURCED", tempdir()), Sys.getpid()))
guarded.predict <- function(model, x) {
    if (any(x[, "Petal.Width"] > 2.4)) stop("petal width over 2.4")
    predict(model, x, type = "prob")
}
"""
OVERLAY = """{
    'model': {'__factory__': 'palladium.R.ClassificationModel', 'scriptname': 'iris.R',
              'funcname': 'train.randomForest', 'encode_labels': True,
              'predict_funcname': 'guarded.predict'},
    'logging': {'version': 1, 'disable_existing_loggers': False,
                'root': {'level': 'WARNING'}},
}"""
CONFIG = "config-iris.py,config-test.py"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/R copied, the guarded predict function added, the model fitted and active."""
    folder = tmp_path_factory.mktemp("iris-r")
    for name in ("iris.R", "config-iris.py", "iris.data"):
        shutil.copy(REPO / "examples" / "R" / name, folder / name)
    with (folder / "iris.R").open("a") as script:
        script.write(GUARDED)
    (folder / "config-test.py").write_text(OVERLAY)
    (folder / "sourced").mkdir()
    subprocess.run(
        [str(BIN / "pld"), "fit"], cwd=folder, env=env(folder), check=True, capture_output=True
    )
    return folder


def env(folder: Path) -> dict[str, str]:
    return {**os.environ, "PLD_CONFIG": CONFIG, "PLD_R_SOURCED": str(folder / "sourced")}


def sourced(folder: Path) -> set[str]:
    return {path.name for path in (folder / "sourced").iterdir()}


def rows(count: int) -> list[dict[str, float]]:
    """``count`` iris-like rows within the training ranges, all different."""
    generator = numpy.random.default_rng(7)
    low, high = numpy.array([4.3, 2.0, 1.0, 0.1]), numpy.array([7.9, 4.4, 6.9, 2.4])
    values = numpy.round(low + generator.random((count, 4)) * (high - low), 1)
    return [dict(zip(FIELDS, map(float, row), strict=True)) for row in values]


def expected(folder: Path, records: list[dict[str, float]]) -> list[str]:
    """The fitted model's labels, row by row through R's own predict on a data.frame."""
    code = (
        "import json, sys, pandas\n"
        "from pld_core import load_config\n"
        "from pld_r import session\n"
        "model = load_config(sys.argv[1])['model_persister'].read()\n"
        "records = json.load(sys.stdin)\n"
        "frame = pandas.DataFrame([list(r.values()) for r in records], columns=model.columns_)\n"
        "with session.rcontext():\n"
        "    proba = session.base('predict')(model.rmodel_, session.to_r(frame), type='prob')\n"
        "    best = session.base('max.col')(proba, 'first')\n"
        "    names = list(session.base('colnames')(proba))\n"
        "print(json.dumps([str(model.classes_[int(names[i - 1])]) for i in best]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, CONFIG],
        cwd=folder,
        env=env(folder),
        input=json.dumps(records),
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(result.stdout))


@pytest.mark.slow
def test_each_worker_starts_r_before_it_serves(fitted: Path) -> None:
    """Without preloading, both workers source the script while loading the app: no request."""
    before = sourced(fitted)
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}"]
        + ["pld_core.wsgi:app"],
        cwd=fitted,
        env=env(fitted),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while len(sourced(fitted) - before) < 2 and time.monotonic() < deadline:
            assert process.poll() is None, "gunicorn exited"
            time.sleep(0.1)
        started = sourced(fitted) - before
        assert len(started) == 2, f"R started in {started} before any request"
        assert str(process.pid) not in started  # in the workers, not the master
        status, body = http_json(f"http://127.0.0.1:{port}/predict?{urlencode(rows(1)[0])}")
        assert status == 200, body
        assert sourced(fitted) - before == started  # the request started no R
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_preloaded_workers_serve_get_post_and_r_errors(fitted: Path) -> None:
    """examples/R's gunicorn config (examples/deploy's preload_app and gthread, plus pld-r's
    hook): R started once in the master before the fork, working in both workers; an R error
    is a 500 naming the R function."""
    records = rows(1000)
    want = expected(fitted, records)
    before = sourced(fitted)
    port = free_port()
    command = [str(BIN / "gunicorn"), "-c", str(REPO / "examples/R/gunicorn.conf.py")]
    command += ["--workers", "2", "--bind", f"127.0.0.1:{port}", "pld_core.wsgi:app"]
    with running_server(command, port, cwd=fitted, env=env(fitted)) as base:
        started = sourced(fitted) - before
        assert len(started) == 1  # the master's R, inherited by the workers
        master = started.pop()
        r_tempdir = Path((fitted / "sourced" / master).read_text().strip())
        status, body = http_json(f"{base}/predict", records, timeout=60)
        assert status == 200, body
        assert body["result"] == want
        first = records[0]
        query, bad_query = urlencode(first), urlencode({**first, "petal width": 2.5})
        for _ in range(6):  # several rounds: both workers fail and go on serving
            status, body = http_json(f"{base}/predict?{bad_query}")
            assert status == 500, body
            message = body["metadata"]["error_message"]
            assert "R error in guarded.predict() of iris.R: petal width over 2.4" in message
            status, body = http_json(f"{base}/predict?{query}")
            assert (status, body["result"]) == (200, want[0])
        assert len(sourced(fitted) - before) == 1

        # A worker that exits leaves R's session folder (shared since the fork) in place.
        children = Path(f"/proc/{master}/task/{master}/children")
        workers = set(children.read_text().split())
        os.kill(int(min(workers)), signal.SIGTERM)
        deadline = time.monotonic() + 60
        while len(set(children.read_text().split()) - workers) < 1:
            assert time.monotonic() < deadline, "gunicorn did not replace the worker"
            time.sleep(0.1)
        assert r_tempdir.is_dir()
        for _ in range(4):
            status, body = http_json(f"{base}/predict?{query}")
            assert (status, body["result"]) == (200, want[0])


@pytest.mark.slow
def test_workers_collect_r_garbage_between_requests(fitted: Path, tmp_path: Path) -> None:
    """With pld-r's gunicorn hook, each worker learns when R is due to collect and collects
    after a response instead; every answer stays right."""
    config = tmp_path / "gunicorn-r.conf.py"
    config.write_text(
        "import os\n"
        "from pld_r import collect\n"
        "from pld_r.gunicorn import post_request\n"
        "def worker_exit(server, worker):\n"
        f"    with open(os.path.join({str(tmp_path)!r}, str(os.getpid())), 'w') as out:\n"
        "        out.write(str(collect.state.collected))\n"
    )
    record = rows(1)[0]
    want = expected(fitted, [record])[0]
    port = free_port()
    command = [str(BIN / "gunicorn"), "-c", str(config), "--workers", "2"]
    command += ["--bind", f"127.0.0.1:{port}", "pld_core.wsgi:app"]
    with running_server(command, port, cwd=fitted, env=env(fitted)) as base:
        for _ in range(800):
            status, body = http_json(f"{base}/predict?{urlencode(record)}")
            assert (status, body["result"]) == (200, want)
    counts = [int(path.read_text()) for path in tmp_path.iterdir() if path.name.isdigit()]
    assert len(counts) == 2, "worker_exit did not run in both workers"
    assert sum(counts) >= 2, f"collections after responses per worker: {counts}"


@pytest.mark.slow
def test_stream_and_batch_predict_answer_as_post(fitted: Path) -> None:
    """`pld stream` and `pld predict` take the same R path: the same labels, R errors named."""
    records = rows(1000)
    want = expected(fitted, records)
    stream = subprocess.run(
        [str(BIN / "pld"), "stream"],
        cwd=fitted,
        env=env(fitted),
        input=json.dumps(records[:500]) + "\n" + json.dumps(records[500:]) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert stream.returncode == 0, stream.stderr
    answers = [json.loads(line) for line in stream.stdout.splitlines()]
    assert answers[0] + answers[1] == want

    path = fitted / "samples.csv"
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, FIELDS)
        writer.writeheader()
        writer.writerows(records)
    batch = subprocess.run(
        [str(BIN / "pld"), "predict", "-i", str(path), "-o", "-", "--output-format", "jsonl"],
        cwd=fitted,
        env=env(fitted),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert batch.returncode == 0, batch.stderr
    assert [json.loads(line)["prediction"] for line in batch.stdout.splitlines()] == want

    failing = [records[0], {**records[1], "petal width": 2.5}]
    stream = subprocess.run(
        [str(BIN / "pld"), "stream"],
        cwd=fitted,
        env=env(fitted),
        input=json.dumps(failing) + "\n" + json.dumps(records[:1]) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "R error in guarded.predict() of iris.R: petal width over 2.4" in stream.stderr
    lines = [json.loads(line) for line in stream.stdout.splitlines()]
    assert lines[-1] == want[:1]  # the stream goes on
