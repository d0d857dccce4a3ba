"""R predict benchmark: pld-r against R's own predict, one row, 1,000 rows, 100,000 rows, HTTP.

Fits examples/R's seed config (Palladium's R iris example, a randomForest of 500 trees), then
measures, each figure beside R's own ``predict`` on the same rows in this process, in
interleaved rounds (the machine may be shared: ratios of the same round, medians of rounds):

- in-process, one row: pld-r's ``ClassificationModel.predict``, pld's whole predict path
  (service → input check → model), and R's own ``predict(model, x, type = "prob")`` on a numeric
  matrix row, called through rpy2's ``rinterface`` (no conversion) and in an R loop; plus the
  parts of pld-r's call;
- a 1,000-row ``POST /predict`` end to end (gunicorn, 1 sync worker) beside R's own batch
  ``predict`` on those rows as a matrix;
- a 100,000-row ``pld predict``, CSV to CSV (columns straight into the float matrix) and JSON
  lines to JSON lines, beside R's own ``predict`` on them, with the command's start-up (a
  1-row run) shown apart;
- ``GET /predict`` with one row, gunicorn with 2 sync workers, 1 connection (wrk, or a
  keep-alive loop without it): p50 / p99, without and with pld-r's gunicorn hook
  (``pld_r.gunicorn.post_request``: R's garbage collection between requests), and each
  request's CPU in the worker; beside two floors: R's own ``predict`` behind a bare WSGI app
  on the same gunicorn, and on a matrix row in a loop in this process, timed per call in wall
  time over the same seconds.

In-process figures are CPU time of this process; the POST and ``pld predict`` figures are
given in wall time and in CPU time (the gunicorn worker's, the command's): on a machine
other jobs load, wall time mostly measures waiting for a core.

    python bench/r_predict.py [--duration 5] [--rounds 5] [--batch-rows 100000] [--no-http]
                              [--calm LOAD] [--instructions [--calls 200]]

The baseline calls only rpy2, not pld-r, so the script measures an older pld-r as well
(put it first on PYTHONPATH). Needs R, r-cran-randomforest, rpy2 and gunicorn; wrk if installed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
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
FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
CONFIG = "config-iris.py,config-quiet.py"
QUIET = "{'logging': {'version': 1, 'disable_existing_loggers': False, " + (
    "'root': {'level': 'WARNING'}}}"
)


def per_call_us(func: Callable[[], Any], number: int, clock: Callable[[], float]) -> float:
    """Microseconds per call over ``number`` calls."""
    start = clock()
    for _ in range(number):
        func()
    return (clock() - start) / number * 1e6


def interleaved(
    funcs: dict[str, Callable[[], Any]],
    rounds: int,
    number: int,
    clock: Callable[[], float] = time.process_time,
) -> dict[str, list[float]]:
    """Per-call µs of each function, round after round, the functions taking turns.

    In-process work is timed in this process's CPU time by default: on a machine that other
    jobs load, wall time mostly measures how long the process waited for a core.
    """
    for func in funcs.values():
        func()
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(rounds):
        for name, func in funcs.items():
            times[name].append(per_call_us(func, number, clock))
    return times


def ratio(times: dict[str, list[float]], name: str, base: str) -> float:
    """Median over rounds of ``name`` / ``base`` measured in the same round."""
    return statistics.median(a / b for a, b in zip(times[name], times[base], strict=True))


def rows(count: int) -> Any:
    """``count`` iris-like rows within the training ranges."""
    import numpy

    generator = numpy.random.default_rng(7)
    low, high = numpy.array([4.3, 2.0, 1.0, 0.1]), numpy.array([7.9, 4.4, 6.9, 2.4])
    return numpy.round(low + generator.random((count, 4)) * (high - low), 1)


def prepare(folder: Path) -> Path:
    """Copy examples/R into ``folder`` and fit the seed config there; return the folder."""
    for path in (REPO / "examples" / "R").iterdir():  # not gunicorn.conf.py: see Gunicorn
        if path.is_file() and path.suffix in (".R", ".data") or path.name.startswith("config"):
            shutil.copy(path, folder / path.name)
    (folder / "config-quiet.py").write_text(QUIET)
    env = {**os.environ, "PLD_CONFIG": CONFIG}
    pld_fit = Path(sys.executable).parent / "pld-fit"
    subprocess.run([str(pld_fit)], cwd=folder, env=env, check=True, capture_output=True)
    return folder


class ROwn:
    """R's own predict on a numeric matrix, through rpy2's rinterface only (no pld-r)."""

    def __init__(self, rmodel: Any, columns: list[str]):
        from rpy2 import rinterface

        self.ri = rinterface
        self.rmodel = rmodel
        self.columns = columns
        self.predict = rinterface.globalenv.find("predict")
        self.loop = rinterface.evalr(
            "function(m, x, n) { for (i in seq_len(n)) predict(m, x, type = 'prob'); NULL }"
        )

    def matrix(self, array: Any) -> Any:
        import numpy

        ri = self.ri
        matrix = ri.FloatSexpVector.from_memoryview(
            numpy.ascontiguousarray(array.T, dtype=float).reshape(-1).data
        )
        matrix.do_slot_assign("dim", ri.IntSexpVector(list(array.shape)))
        dimnames = ri.ListSexpVector([ri.NULL, ri.StrSexpVector(self.columns)])
        matrix.do_slot_assign("dimnames", dimnames)
        return matrix

    def __call__(self, matrix: Any) -> Any:
        import numpy

        return numpy.array(self.predict(self.rmodel, matrix, type="prob").memoryview())


def one_row_calls(folder: Path) -> tuple[dict[str, Callable[[], Any]], Any, ROwn]:
    """The one-row calls compared: pld-r, pld's predict path, R's own, and pld-r's parts."""
    import numpy

    from pld_core import load_config, make_predict_path
    from pld_r import session

    os.chdir(folder)
    config = load_config(CONFIG)
    model = config["model_persister"].read()
    path = make_predict_path(config)
    row = numpy.array(ROW)
    record = [dict(zip(FIELDS, ROW[0], strict=True))]
    model.predict(row)  # an older pld-r chooses the input form on its first predict
    own = ROwn(model.rmodel_, model.columns_)
    matrix = own.matrix(row)
    funcs: dict[str, Callable[[], Any]] = {
        "pld-r predict": lambda: model.predict(row),
        "pld predict path (service, check, model)": lambda: path.predict(record),
        "R's own predict, matrix row (rinterface)": lambda: own(matrix),
    }
    if hasattr(session, "numeric_matrix"):  # the parts of this pld-r's call
        answer = own.predict(own.rmodel, matrix, type="prob")
        funcs["  part: row -> R matrix"] = lambda: session.numeric_matrix(row, model.columns_)
        funcs["  part: R answer -> numpy"] = lambda: session.read_table(answer)
    frame = session.numeric_frame(row, model.columns_)
    funcs["R's own predict, data.frame row"] = lambda: own.predict(own.rmodel, frame, type="prob")
    return funcs, model, own


def in_process(folder: Path, rounds: int) -> tuple[dict[str, list[float]], Any, ROwn]:
    """Per-call µs of CPU of one row: pld-r, pld's predict path, R's own, pld-r's parts."""
    funcs, model, own = one_row_calls(folder)
    matrix = own.matrix(numpy_rows(ROW))
    loop = "R's own predict, matrix row (R loop)"
    funcs[loop] = lambda: own.loop(own.rmodel, matrix, 10)
    times = interleaved(funcs, rounds, 300)
    times[loop] = [value / 10 for value in times[loop]]
    return times, model, own


INSTRUCTION_CALLS = (
    "R's own predict, matrix row (rinterface)",
    "pld-r predict",
    "pld predict path (service, check, model)",
)


def instructions(folder: Path, calls: int) -> dict[str, float]:
    """Instructions per one-row call (valgrind's callgrind), counted over ``calls`` calls
    only: start-up, loading and warm-up calls are left out by zeroing the counters at a
    ``getppid()`` just before the loop and dumping them at a ``getpgrp()`` just after."""
    counts = {}
    for index, name in enumerate(INSTRUCTION_CALLS):
        out = folder / f"callgrind.{index}"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        command += ["--zero-before=getppid", "--dump-before=getpgrp", sys.executable]
        command += [__file__, "--count-child", str(index), "--folder", str(folder)]
        command += ["--calls", str(calls)]
        subprocess.run(command, check=True, capture_output=True, env=os.environ)
        dump = Path(f"{out}.1").read_text()
        total = next(line for line in dump.splitlines() if line.startswith(("summary:", "totals:")))
        counts[name] = int(total.split()[1]) / calls
    return counts


def count_child(folder: Path, index: int, calls: int) -> None:
    """Under callgrind: ``calls`` of one call, between the two marks."""
    funcs, _, _ = one_row_calls(folder)
    func = funcs[INSTRUCTION_CALLS[index]]
    for _ in range(5):
        func()
    os.getppid()  # callgrind zeroes its counters here
    for _ in range(calls):
        func()
    os.getpgrp()  # and dumps them here


def numpy_rows(values: list[list[float]]) -> Any:
    import numpy

    return numpy.array(values)


class Gunicorn:
    """gunicorn serving ``pld_core.wsgi:app`` for the fitted config (sync workers), with
    gunicorn's defaults or the settings of ``config`` (gunicorn would also read a
    ``gunicorn.conf.py`` in the folder: the bench leaves examples/R's out)."""

    def __init__(
        self, folder: Path, workers: int, config: Path | None = None, app: str = "pld_core.wsgi:app"
    ):
        self.port = free_port()
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        env = {**os.environ, "PLD_CONFIG": CONFIG}
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(workers)]
            + ["--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"]
            + (["--config", str(config)] if config is not None else [])
            + [app],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
        )
        self._wait_ready()

    def request(self, connection: http.client.HTTPConnection, body: bytes | None = None) -> bytes:
        if body is None:
            connection.request("GET", f"/predict?{QUERY}")
        else:
            headers = {"Content-Type": "application/json"}
            connection.request("POST", "/predict", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"/predict answered {response.status}: {answer[:300]!r}")
        return answer

    def workers(self) -> list[int]:
        """The worker processes' ids."""
        pid = self.process.pid
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def _wait_ready(self) -> None:
        """One answer: the workers load R and the model before they serve (pld-r loads the
        R model when it is unpickled), so nothing more is warmed here."""
        deadline = time.perf_counter() + 120
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.request(connection)
                connection.close()
                return
            except OSError:
                if self.process.poll() is not None:
                    self.stderr.seek(0)
                    said = self.stderr.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"gunicorn exited: {said}") from None
                if time.perf_counter() > deadline:
                    raise RuntimeError("gunicorn did not answer within 120 s") from None
                time.sleep(0.1)

    def loop(self, seconds: float) -> dict[str, float]:
        """One keep-alive connection, sequential GETs: p50 / p99 latency and requests/s."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        latencies = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            self.request(connection)
            latencies.append(time.perf_counter() - start)
        connection.close()
        latencies.sort()
        return {
            "rps": len(latencies) / sum(latencies),
            "p50_ms": statistics.median(latencies) * 1e3,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
            "max_ms": latencies[-1] * 1e3,
        }

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.stderr.close()


def cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes ``pids`` have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def children_cpu() -> float:
    """CPU seconds used by this process's finished children (the `pld predict` runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def post_1000(folder: Path, own: ROwn, rounds: int) -> dict[str, list[float]]:
    """ms per 1,000-row POST (wall end to end, and the worker's CPU) and per R's own predict
    on the same rows (wall and CPU), in interleaved rounds."""
    data = rows(1000)
    body = json.dumps([dict(zip(FIELDS, map(float, r), strict=True)) for r in data]).encode()
    matrix = own.matrix(data)
    server = Gunicorn(folder, 1)
    names = (
        "POST 1,000 rows, wall, end to end",
        "R's own predict, 1,000-row matrix, wall",
        "POST 1,000 rows, gunicorn worker's CPU",
        "R's own predict, 1,000-row matrix, CPU",
    )
    times: dict[str, list[float]] = {name: [] for name in names}
    number = 4
    try:
        workers = server.workers()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        server.request(connection, body)
        own(matrix)
        for _ in range(rounds):
            wall, cpu = time.perf_counter(), cpu_of(workers)
            for _ in range(number):
                server.request(connection, body)
            times[names[0]].append((time.perf_counter() - wall) / number * 1e3)
            times[names[2]].append((cpu_of(workers) - cpu) / number * 1e3)
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(number):
                own(matrix)
            times[names[1]].append((time.perf_counter() - wall) / number * 1e3)
            times[names[3]].append((time.process_time() - cpu) / number * 1e3)
        connection.close()
    finally:
        server.stop()
    return times


def batch(folder: Path, own: ROwn, count: int, rounds: int) -> dict[str, list[float]]:
    """s of ``pld predict`` over ``count`` rows, CSV to CSV and JSON lines to JSON lines (and
    over 1 row, its start-up), wall and CPU, beside R's own predict on the same rows."""
    data = rows(count)
    for suffix in ("csv", "jsonl"):
        for name, part in (("rows", data), ("one", data[:1])):
            with (folder / f"{name}.{suffix}").open("w") as file:
                if suffix == "csv":
                    file.write(",".join(FIELDS) + "\n")
                for row in part.tolist():
                    if suffix == "csv":
                        file.write(",".join(map(repr, row)) + "\n")
                    else:
                        file.write(json.dumps(dict(zip(FIELDS, row, strict=True))) + "\n")
    env = {**os.environ, "PLD_CONFIG": CONFIG}
    pld = str(Path(sys.executable).parent / "pld")
    matrix = own.matrix(data)
    r_own = f"R's own predict, {count:,}-row matrix"
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        for suffix in ("csv", "jsonl"):
            for name, source in ((f"{count:,} rows", "rows"), ("1 row (start-up)", "one")):
                command = [pld, "predict", "-i", f"{source}.{suffix}", "-o", f"out.{suffix}"]
                wall, cpu = time.perf_counter(), children_cpu()
                subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True)
                label = f"pld predict {suffix}, {name}"
                times.setdefault(f"{label}, wall", []).append(time.perf_counter() - wall)
                times.setdefault(f"{label}, CPU", []).append(children_cpu() - cpu)
        wall, cpu = time.perf_counter(), time.process_time()
        own(matrix)
        times.setdefault(f"{r_own}, wall", []).append(time.perf_counter() - wall)
        times.setdefault(f"{r_own}, CPU", []).append(time.process_time() - cpu)
    for suffix in ("csv", "jsonl"):
        for clock in ("wall", "CPU"):
            whole = times[f"pld predict {suffix}, {count:,} rows, {clock}"]
            startup = times[f"pld predict {suffix}, 1 row (start-up), {clock}"]
            times[f"pld predict {suffix}, minus start-up, {clock}"] = [
                a - b for a, b in zip(whole, startup, strict=True)
            ]
    return times


TIMED = """import os, time
{hook}
_times, _start = [], [0.0]


def pre_request(worker, req):
    _start[0] = time.thread_time()


def post_request(worker, req, environ, resp):
    _times.append(time.thread_time() - _start[0])  # the request's CPU, before any hook
    {call}


def worker_exit(server, worker):
    with open(os.path.join({folder!r}, "cpu-{tag}-%d" % os.getpid()), "w") as out:
        out.write("\\n".join(map(str, _times)))
"""


BARE_APP = """\"\"\"R's own predict behind a bare WSGI app: the floor for any server.\"\"\"
import json
from urllib.parse import parse_qsl

import numpy
from rpy2 import rinterface

from pld_core import load_config

model = load_config({config!r})["model_persister"].read()
predict = rinterface.globalenv.find("predict")
dimnames = rinterface.ListSexpVector([rinterface.NULL, rinterface.StrSexpVector(model.columns_)])
FIELDS = {fields!r}


def app(environ, start_response):
    query = dict(parse_qsl(environ["QUERY_STRING"]))
    matrix = rinterface.FloatSexpVector([float(query[name]) for name in FIELDS])
    matrix.do_slot_assign("dim", rinterface.IntSexpVector([1, len(FIELDS)]))
    matrix.do_slot_assign("dimnames", dimnames)
    proba = numpy.array(predict(model.rmodel_, matrix, type="prob").memoryview())
    body = json.dumps({{"result": int(proba.argmax())}}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
"""


def gunicorn_config(folder: Path, tag: str, hook: bool) -> Path:
    """A gunicorn config that times each request's CPU in the worker (written out when the
    worker exits), with pld-r's hook after the timing when ``hook``."""
    path = folder / f"gunicorn-{tag}.conf.py"
    path.write_text(
        TIMED.format(
            hook="from pld_r.gunicorn import post_request as r_post_request" if hook else "",
            call="r_post_request(worker, req, environ, resp)" if hook else "",
            folder=str(folder),
            tag=tag,
        )
    )
    return path


def worker_cpu_ms(folder: Path, tag: str) -> dict[str, float]:
    """p50 / p99 of the CPU per request in the workers of the last run with ``tag``."""
    times: list[float] = []
    for path in folder.glob(f"cpu-{tag}-*"):
        times += [float(line) for line in path.read_text().split()]
        path.unlink()
    times.sort()
    if not times:
        return {}
    return {
        "cpu_p50_ms": times[len(times) // 2] * 1e3,
        "cpu_p99_ms": times[int(len(times) * 0.99)] * 1e3,
    }


def latencies_ms(func: Callable[[], Any], seconds: float) -> dict[str, float]:
    """p50 / p99 wall latency of ``func`` called in a loop for ``seconds``."""
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "p50_ms": times[len(times) // 2] * 1e3,
        "p99_ms": times[int(len(times) * 0.99)] * 1e3,
        "rps": len(times) / seconds,
    }


def wait_for_calm(load: float | None, limit: float = 1800) -> float:
    """Wait until the 1-minute load average is below ``load`` (at most ``limit`` s); return
    the load average the round starts at."""
    deadline = time.monotonic() + limit
    while load is not None and os.getloadavg()[0] >= load and time.monotonic() < deadline:
        time.sleep(10)
    return os.getloadavg()[0]


def over_http(
    folder: Path, own: ROwn, duration: int, rounds: int, calm: float | None
) -> dict[str, list[dict[str, float]]]:
    """One-row GETs at 1 connection to 2 sync workers, without and with pld-r's gunicorn
    hook, and two floors: R's own predict behind a bare WSGI app on the same gunicorn, and in
    a loop here over as long; round after round (the order reversed every other round),
    each worker's CPU per request alongside."""
    matrix = own.matrix(rows(1))
    (folder / "bare_r_app.py").write_text(BARE_APP.format(config=CONFIG, fields=FIELDS))
    scenarios = {  # name: (tag, pld-r's hook, app)
        "2 workers": ("plain", False, "pld_core.wsgi:app"),
        "2 workers + pld_r.gunicorn hook": ("hook", True, "pld_core.wsgi:app"),
        "R's own predict, bare WSGI app": ("bare", False, "bare_r_app:app"),
    }
    floor = "R's own predict, in-process loop"
    results: dict[str, list[dict[str, float]]] = {name: [] for name in [*scenarios, floor]}
    for number in range(rounds):
        load = wait_for_calm(calm)
        order = [*scenarios, floor]
        for name in order if number % 2 == 0 else reversed(order):
            if name == floor:
                results[floor].append(latencies_ms(lambda: own(matrix), duration))
                results[floor][-1]["load"] = load
                continue
            tag, hook, app = scenarios[name]
            server = Gunicorn(folder, 2, gunicorn_config(folder, tag, hook), app)
            try:
                if shutil.which("wrk"):
                    url = f"http://127.0.0.1:{server.port}/predict?{QUERY}"
                    result = run_wrk(url, 1, duration, None)
                else:
                    result = server.loop(duration)
            finally:
                server.stop()
            results[name].append({**result, **worker_cpu_ms(folder, tag)})
    return results


def show_http(results: dict[str, list[dict[str, float]]]) -> None:
    rounds = len(next(iter(results.values())))
    floor = results["R's own predict, in-process loop"]
    loads = ", ".join(f"{run['load']:.1f}" for run in floor)
    print(f"\nGET /predict, one row, 1 connection (median of {rounds} rounds; wrk if installed;")
    print(f"load average at the start of each round: {loads}):")
    header = ("req/s", "p50 ms", "p99 ms", "p99/p50", "p99/floor", "CPU p99/p50")
    print(f"  {'scenario':<34}" + "".join(f"{h:>10}" for h in header[:-1]) + f"{header[-1]:>13}")
    for name, runs in results.items():
        values = [
            statistics.median(run["rps"] for run in runs),
            statistics.median(run["p50_ms"] for run in runs),
            statistics.median(run["p99_ms"] for run in runs),
            statistics.median(run["p99_ms"] / run["p50_ms"] for run in runs),
            statistics.median(
                run["p99_ms"] / base["p99_ms"] for run, base in zip(runs, floor, strict=True)
            ),
        ]
        cpu = [run["cpu_p99_ms"] / run["cpu_p50_ms"] for run in runs if "cpu_p50_ms" in run]
        line = f"  {name:<34}" + "".join(f"{value:10.2f}" for value in values)
        print(line + (f"{statistics.median(cpu):13.2f}" if cpu else ""))
        spreads = ", ".join(f"{run['p99_ms'] / run['p50_ms']:.1f}" for run in runs)
        print(f"  {'':<34} p99/p50 by round: {spreads}")
    print("  (CPU: each request's CPU time in the gunicorn worker, which waiting does not count)")


def show(title: str, times: dict[str, list[float]], unit: str) -> None:
    print(f"\n{title} (median of {len(next(iter(times.values())))} rounds, {unit}):")
    for name, values in times.items():
        print(f"  {name:<48} {statistics.median(values):10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per HTTP scenario")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--batch-rows", type=int, default=100_000, help="rows for pld predict")
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    parser.add_argument(
        "--calm",
        type=float,
        metavar="LOAD",
        help="start each HTTP round only once the 1-minute load average is below LOAD "
        "(waiting at most 30 min): on a shared machine, other jobs make the p99",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="instead: instructions per one-row call, counted by valgrind (callgrind), a "
        "measure other jobs on the machine do not disturb",
    )
    parser.add_argument("--calls", type=int, default=200, help="calls counted (--instructions)")
    parser.add_argument("--count-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count_child is not None:
        count_child(args.folder, args.count_child, args.calls)
        return
    if args.instructions:
        with tempfile.TemporaryDirectory() as tmp:
            counts = instructions(prepare(Path(tmp)), args.calls)
            os.chdir(REPO)
        print(f"\nInstructions per one-row call (callgrind, {args.calls} calls counted):")
        reference = counts[INSTRUCTION_CALLS[0]]
        for name, count in counts.items():
            print(f"  {name:<48} {count:12,.0f}  {count / reference:5.3f}x")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = prepare(Path(tmp))
        local, _, own = in_process(folder, args.rounds)
        if not args.no_http:
            posted = post_1000(folder, own, args.rounds)
            batched = batch(folder, own, args.batch_rows, max(2, args.rounds // 2))
            remote = over_http(folder, own, args.duration, max(2, args.rounds // 2 + 1), args.calm)
        os.chdir(REPO)
    print(f"\nR predict, iris randomForest (500 trees); Python {sys.version.split()[0]}")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    show("In-process, one row", local, "µs of CPU per call")
    base = "R's own predict, matrix row (rinterface)"
    print(f"  pld-r predict / R's own (same round): {ratio(local, 'pld-r predict', base):.2f}x")
    path = "pld predict path (service, check, model)"
    print(f"  pld predict path / R's own:           {ratio(local, path, base):.2f}x")
    if args.no_http:
        return
    show("1,000-row POST", posted, "ms per request")
    names = list(posted)
    print(f"  POST / R's own, wall (same round): {ratio(posted, names[0], names[1]):.2f}x")
    print(f"  POST / R's own, CPU (same round):  {ratio(posted, names[2], names[3]):.2f}x")
    show(f"{args.batch_rows:,}-row pld predict (out in the input's format)", batched, "s")
    r_name = f"R's own predict, {args.batch_rows:,}-row matrix"
    for suffix in ("csv", "jsonl"):
        for clock in ("wall", "CPU"):
            whole = f"pld predict {suffix}, {args.batch_rows:,} rows, {clock}"
            net = f"pld predict {suffix}, minus start-up, {clock}"
            own_name = f"{r_name}, {clock}"
            print(
                f"  {suffix:<5} / R's own, {clock:<4}: {ratio(batched, whole, own_name):.2f}x;"
                f" minus start-up: {ratio(batched, net, own_name):.2f}x"
            )
    show_http(remote)


if __name__ == "__main__":
    main()
