"""Batch prediction benchmark: ``pld predict`` vs hand-written pandas scripts, and its memory.

Fits the iris example (LogisticRegression) into a temporary folder, writes ROWS samples as CSV,
Parquet and JSON lines, then runs, as whole processes (interpreter start, imports and model
load included, as a user pays them):

- ``pld predict`` CSV → CSV, Parquet → Parquet (input columns kept), each twice: serving the
  version's verified ONNX form (``compiled_inference``; the Python model is never unpickled,
  so scikit-learn is never imported) and serving the scikit-learn model itself
  (``'serve': False``); JSON lines → JSON lines, and a 1-row CSV (start-up alone) of each;
- the baselines a user would write by hand: ``pandas.read_csv`` → ``model.predict`` on the
  whole frame → ``to_csv``, and the same with ``read_parquet``/``to_parquet``, with the same
  model read from the same store.

Runs are interleaved (A, B, A, B, ...) so drifting machine load hits every case alike. For each
case it reports the median wall time and the median CPU time (user + system of the process,
from ``wait4``: less sensitive to other load on the machine than wall time), and the
baseline's time over pld's ("1.5x" = pld takes two thirds of the baseline's time).

``--memory`` then runs ``pld predict`` CSV → CSV and Parquet → Parquet on files of 1x, 10x and
100x ``--memory-rows`` rows and prints each process's peak RSS: with chunked reading it stays
flat as the file grows (a chunk is 1 MiB of CSV, or --batch-size rows of Parquet).

    python bench/batch_predict.py [--rows 200000] [--runs 5] [--memory] [--memory-rows 50000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy
import pyarrow
import pyarrow.csv
import pyarrow.parquet

REPO = Path(__file__).resolve().parents[1]
FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
QUIET = (
    "{'logging': {'version': 1, 'disable_existing_loggers': False, 'root': {'level': 'WARNING'}}}"
)
#: The version is written with its verified ONNX form; ``python.py`` serves the Python model.
COMPILED = "{'compiled_inference': {'enabled': True}}"
PYTHON = "{'compiled_inference': {'enabled': True, 'serve': False}}"
ONNX_CONFIG = "config.py,quiet.py,compiled.py"
PYTHON_CONFIG = "config.py,quiet.py,compiled.py,python.py"
BASELINE = """
import sys
import pandas
from pld_core import load_config
model = load_config("config.py,quiet.py", __mode__="fit")["model_persister"].read()
frame = pandas.{read}(sys.argv[1])
frame["prediction"] = model.predict(frame[{fields!r}].to_numpy(dtype=float))
frame.{write}(sys.argv[2], index=False)
"""


def prepare(folder: Path) -> None:
    """The iris example fitted in ``folder``, and the baseline scripts."""
    for name in ("config.py", "iris.data"):
        shutil.copy(REPO / "examples" / "iris" / name, folder / name)
    (folder / "quiet.py").write_text(QUIET)
    (folder / "compiled.py").write_text(COMPILED)
    (folder / "python.py").write_text(PYTHON)
    run(folder, [pld_script(), "fit"], check=True)
    (folder / "baseline_csv.py").write_text(
        BASELINE.format(read="read_csv", write="to_csv", fields=FIELDS)
    )
    (folder / "baseline_parquet.py").write_text(
        BASELINE.format(read="read_parquet", write="to_parquet", fields=FIELDS)
    )


def write_samples(folder: Path, rows: int, name: str, formats: tuple[str, ...]) -> None:
    """``rows`` iris-like samples (measurements of the 150 flowers, jittered) as ``name.<fmt>``."""
    base = numpy.loadtxt(folder / "iris.data", delimiter=",", usecols=range(4))
    rng = numpy.random.default_rng(0)
    values = base[rng.integers(0, len(base), rows)] + rng.uniform(-0.2, 0.2, (rows, 4))
    table = pyarrow.table(dict(zip(FIELDS, values.round(2).T, strict=True)))
    if "csv" in formats:
        pyarrow.csv.write_csv(table, folder / f"{name}.csv")
    if "parquet" in formats:
        pyarrow.parquet.write_table(table, folder / f"{name}.parquet")
    if "jsonl" in formats:
        with (folder / f"{name}.jsonl").open("w") as handle:
            for record in table.to_pylist():
                handle.write("{" + ", ".join(f'"{k}": {v}' for k, v in record.items()) + "}\n")


def pld_script() -> str:
    return str(Path(sys.executable).parent / "pld")


def environment(config: str) -> dict[str, str]:
    """This process's environment with ``config`` as the only pld config."""
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = config
    return env


def run(
    folder: Path, command: list[str], check: bool = False, config: str = ONNX_CONFIG
) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of the command's process."""
    env = environment(config)
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if check and process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{errors.decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def compare(folder: Path, rows: int, runs: int, batch_size: int) -> None:
    write_samples(folder, rows, "samples", ("csv", "parquet", "jsonl"))
    write_samples(folder, 1, "one", ("csv",))
    size = ["--batch-size", str(batch_size)]
    pld = [pld_script(), "predict", *size, "-i"]
    onnx, python = "pld predict (onnx)", "pld predict (python)"
    cases: dict[str, tuple[list[str], str]] = {
        "pandas script csv -> csv": (
            [sys.executable, "baseline_csv.py", "samples.csv", "b.csv"],
            ONNX_CONFIG,
        ),
        f"{onnx} csv -> csv": ([*pld, "samples.csv", "-o", "p.csv"], ONNX_CONFIG),
        f"{python} csv -> csv": ([*pld, "samples.csv", "-o", "q.csv"], PYTHON_CONFIG),
        "pandas script parquet -> parquet": (
            [sys.executable, "baseline_parquet.py", "samples.parquet", "b.parquet"],
            ONNX_CONFIG,
        ),
        f"{onnx} parquet -> parquet": ([*pld, "samples.parquet", "-o", "p.parquet"], ONNX_CONFIG),
        f"{python} parquet -> parquet": (
            [*pld, "samples.parquet", "-o", "q.parquet"],
            PYTHON_CONFIG,
        ),
        f"{onnx} jsonl -> jsonl": ([*pld, "samples.jsonl", "-o", "p.jsonl"], ONNX_CONFIG),
        f"{onnx}, 1 row (start-up)": ([*pld, "one.csv", "-o", "one-out.csv"], ONNX_CONFIG),
        f"{python}, 1 row (start-up)": ([*pld, "one.csv", "-o", "one-q.csv"], PYTHON_CONFIG),
    }
    for command, config in cases.values():  # warm the file cache and check that each works
        run(folder, command, check=True, config=config)
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (command, config) in cases.items():
            seconds, cpu_seconds = run(folder, command, check=True, config=config)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)

    theirs = pyarrow.csv.read_csv(folder / "b.csv").column("prediction").to_pylist()
    for name in ("p.csv", "q.csv"):
        ours = pyarrow.csv.read_csv(folder / name).column("prediction").to_pylist()
        assert ours == theirs, f"pld ({name}) and the pandas script disagree (CSV)"
    theirs = pyarrow.parquet.read_table(folder / "b.parquet").column("prediction").to_pylist()
    for name in ("p.parquet", "q.parquet"):
        ours = pyarrow.parquet.read_table(folder / name).column("prediction").to_pylist()
        assert ours == theirs, f"pld ({name}) and the pandas script disagree (Parquet)"

    median_wall = {name: statistics.median(values) for name, values in wall.items()}
    median_cpu = {name: statistics.median(values) for name, values in cpu.items()}
    print(f"{rows} rows, batch size {batch_size}, median of {runs} interleaved runs")
    print(f"{'case':42} {'wall s':>7} {'cpu s':>7} {'rows/s (wall)':>14}")
    for name in cases:
        rate = (1 if "1 row" in name else rows) / median_wall[name]
        print(f"{name:42} {median_wall[name]:7.2f} {median_cpu[name]:7.2f} {rate:14.0f}")
    for fmt in ("csv -> csv", "parquet -> parquet"):
        base = f"pandas script {fmt}"
        for served in (onnx, python):
            mine = f"{served} {fmt}"
            print(
                f"{mine}: {median_wall[base] / median_wall[mine]:.2f}x faster (wall), "
                f"{median_cpu[base] / median_cpu[mine]:.2f}x (cpu) than the pandas script"
            )
    for served in (onnx, python):
        startup = median_cpu[f"{served}, 1 row (start-up)"]
        for fmt in ("csv -> csv", "parquet -> parquet"):
            work = median_cpu[f"{served} {fmt}"] - startup
            print(f"{served} {fmt}: {work:.2f} cpu s after start-up ({startup:.2f} s)")


#: Runs the command as its own child and prints that child's peak RSS (KiB). A child forked
#: from this benchmark would count the benchmark's own pages, resident when it was forked,
#: as its peak (Linux keeps the high-water mark across exec); the launcher is small.
LAUNCHER = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss(folder: Path, command: list[str]) -> int:
    """The peak RSS (KiB) of ``command``'s process alone."""
    env = environment(ONNX_CONFIG)
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return int(done.stdout)


def memory(folder: Path, rows: int, batch_size: int) -> None:
    print(f"peak RSS of pld predict (onnx; chunks: 1 MiB of CSV, {batch_size} rows of Parquet)")
    print(f"{'rows':>10} {'csv MB':>8} {'csv -> csv':>12} {'parquet -> parquet':>20}")
    for factor in (1, 10, 100):
        count = rows * factor
        write_samples(folder, count, f"m{factor}", ("csv", "parquet"))
        mb = (folder / f"m{factor}.csv").stat().st_size / 1e6
        size = ["--batch-size", str(batch_size)]
        csv_rss = peak_rss(
            folder, [pld_script(), "predict", *size, "-i", f"m{factor}.csv", "-o", "m.csv"]
        )
        pq_rss = peak_rss(
            folder,
            [pld_script(), "predict", *size, "-i", f"m{factor}.parquet", "-o", "m.parquet"],
        )
        print(f"{count:>10} {mb:8.1f} {csv_rss / 1024:9.0f} MiB {pq_rss / 1024:17.0f} MiB")
        for name in (f"m{factor}.csv", f"m{factor}.parquet", "m.csv", "m.parquet"):
            (folder / name).unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    parser.add_argument("--memory-rows", type=int, default=50_000)
    parser.add_argument("--skip-compare", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pld-bench-batch-") as tmp:
        folder = Path(tmp)
        prepare(folder)
        if not args.skip_compare:
            compare(folder, args.rows, args.runs, args.batch_size)
        if args.memory:
            memory(folder, args.memory_rows, args.batch_size)


if __name__ == "__main__":
    main()
