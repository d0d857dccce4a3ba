"""R predict benchmark: one row through the R randomForest over HTTP vs the same R call in-process.

Fits examples/R's seed config (Palladium's R iris example), then reports:

- in-process, per single-row ``predict``: the whole ``ClassificationModel.predict`` and its
  parts: the row → R data.frame (pld-r's numeric fast path, and through pandas for
  comparison), R's ``predict`` on the converted row, R's answer → numpy; plus a plain R
  matrix and R's ``predict`` on it;
- over HTTP: ``GET /predict`` with one row, gunicorn with 1 and 2 sync workers on 127.0.0.1,
  driven by wrk (1 and 4 connections; a plain keep-alive loop when wrk is missing);
- the HTTP overhead: p50 latency at 1 connection minus the in-process ``predict``.

    python bench/r_predict.py [--duration 5]

Needs R, r-cran-randomforest, rpy2 and gunicorn; wrk (Debian package) if installed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import QUERY, free_port, run_wrk  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ROW = [[6.3, 2.5, 4.9, 1.5]]
QUIET = "{'logging': {'version': 1, 'disable_existing_loggers': False, " + (
    "'root': {'level': 'WARNING'}}}"
)


def per_call_us(func: Callable[[], Any], number: int = 300, repeat: int = 5) -> float:
    """Median over ``repeat`` batches of microseconds per call."""
    func()
    batches = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        batches.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(batches)


def prepare(folder: Path) -> Path:
    """Copy examples/R into ``folder`` and fit the seed config there; return the folder."""
    for path in (REPO / "examples" / "R").iterdir():
        if path.is_file() and path.suffix in (".R", ".py", ".data"):
            shutil.copy(path, folder / path.name)
    (folder / "config-quiet.py").write_text(QUIET)
    env = {**os.environ, "PLD_CONFIG": "config-iris.py,config-quiet.py"}
    pld_fit = Path(sys.executable).parent / "pld-fit"
    subprocess.run([str(pld_fit)], cwd=folder, env=env, check=True, capture_output=True)
    return folder


def in_process(folder: Path) -> dict[str, float]:
    """Microseconds per single-row call, whole predict and its parts."""
    import numpy
    import pandas

    from pld_core import load_config
    from pld_r import session

    os.chdir(folder)
    model = load_config("config-iris.py,config-quiet.py")["model_persister"].read()
    row = numpy.array(ROW)
    model.predict(row)  # sources the script, unserializes the R model
    r_predict, rmodel = session.base("predict"), model.rmodel_
    r_frame = model._r_data(row)
    r_matrix = session.to_r(row)
    answer = r_predict(rmodel, r_frame, type="prob")
    return {
        "predict (whole)": per_call_us(lambda: model.predict(row)),
        "predict_proba (whole)": per_call_us(lambda: model.predict_proba(row)),
        "row -> R data.frame (fast path)": per_call_us(lambda: model._r_data(row)),
        "row -> R data.frame via pandas": per_call_us(
            lambda: session.to_r(pandas.DataFrame(row, columns=model.columns_))
        ),
        "R predict on data.frame row": per_call_us(lambda: r_predict(rmodel, r_frame, type="prob")),
        "R answer -> numpy": per_call_us(
            lambda: (list(session.base("colnames")(answer)), session.to_numpy(answer))
        ),
        "row -> R matrix": per_call_us(lambda: session.to_r(row)),
        "R predict on matrix row": per_call_us(lambda: r_predict(rmodel, r_matrix, type="prob")),
    }


class Gunicorn:
    """gunicorn serving ``pld_core.wsgi:app`` for the fitted config."""

    def __init__(self, folder: Path, workers: int):
        self.port = free_port()
        env = {**os.environ, "PLD_CONFIG": "config-iris.py,config-quiet.py"}
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "pld_core.wsgi:app",
            ],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready(workers)

    def get(self, connection: http.client.HTTPConnection) -> bytes:
        connection.request("GET", f"/predict?{QUERY}")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"/predict answered {response.status}: {body!r}")
        return body

    def _wait_ready(self, workers: int) -> None:
        deadline = time.perf_counter() + 120
        ready = 0
        while ready < workers * 3:  # every worker has loaded R and the model, most likely
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.get(connection)
                connection.close()
                ready += 1
            except OSError:
                if time.perf_counter() > deadline:
                    raise RuntimeError("gunicorn did not answer within 120 s") from None
                time.sleep(0.1)

    def loop(self, seconds: float) -> dict[str, float]:
        """One keep-alive connection, sequential GETs: p50 latency and requests/s."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        latencies = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            self.get(connection)
            latencies.append(time.perf_counter() - start)
        connection.close()
        return {
            "rps": len(latencies) / sum(latencies),
            "p50_ms": statistics.median(latencies) * 1e3,
            "p99_ms": sorted(latencies)[int(len(latencies) * 0.99)] * 1e3,
        }

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def over_http(folder: Path, duration: int) -> dict[str, dict[str, float]]:
    results = {}
    for workers in (1, 2):
        server = Gunicorn(folder, workers)
        try:
            url = f"http://127.0.0.1:{server.port}/predict?{QUERY}"
            for connections in (1, 4):
                name = f"{workers} worker{'s' * (workers > 1)}, {connections} conn"
                if shutil.which("wrk"):
                    results[name] = run_wrk(url, connections, duration, None)
                elif connections == 1:
                    results[name] = server.loop(duration)
        finally:
            server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per HTTP scenario")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = prepare(Path(tmp))
        local = in_process(folder)
        remote = over_http(folder, args.duration)
        os.chdir(REPO)
    print(f"\nR predict, one row, iris randomForest (500 trees); Python {sys.version.split()[0]}")
    print("\nIn-process (median µs per call):")
    for name, value in local.items():
        print(f"  {name:<32} {value:9.0f}")
    print(f"\nOver HTTP (gunicorn sync workers, {'wrk' if shutil.which('wrk') else 'loop'}):")
    print(f"  {'scenario':<22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, values in remote.items():
        print(
            f"  {name:<22} {values['rps']:8.0f} {values['p50_ms']:8.2f} "
            f"{values.get('p99_ms', float('nan')):8.2f}"
        )
    single = remote["1 worker, 1 conn"]["p50_ms"] * 1e3
    print(
        f"\nHTTP + service overhead at 1 connection: {single - local['predict (whole)']:.0f} µs "
        f"(p50 {single:.0f} µs - in-process predict {local['predict (whole)']:.0f} µs)"
    )


if __name__ == "__main__":
    main()
