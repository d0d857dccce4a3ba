"""Batch prediction on dask: ``pld predict`` on a directory of partitions, 2 workers vs 1 process.

Fits the iris example (LogisticRegression) into a temporary folder and writes ROWS iris-like
samples (default 10 million) as PARTS partition files (CSV or Parquet). Then, interleaved
(A, B, C, A, B, C, ...), times as whole processes:

- ``pld predict -i parts -o out`` — one process scores the partitions in order;
- ``pld predict -i parts -o out --scheduler tcp://...`` — a ``LocalCluster`` of two
  single-threaded worker processes on 127.0.0.1, started once by this script (the scoring alone);
- ``pld predict ... --scheduler local:2`` — the same, with the cluster started and stopped by
  ``pld predict`` itself (what a one-off run pays).

Checks that every output directory holds the same bytes as the single process's, and prints
median wall times and the single process's time over each dask run's. Wall time is what
counts here (the work is spread over processes); the machine has 2 cores, so 2 workers can at
best halve it, and others' load on a shared machine shows in every figure.

    python bench/batch_dask.py [--rows 10000000] [--parts 20] [--format csv] [--runs 2]
"""

from __future__ import annotations

import argparse
import filecmp
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
from distributed import LocalCluster

REPO = Path(__file__).resolve().parents[1]
FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
QUIET = (
    "{'logging': {'version': 1, 'disable_existing_loggers': False, 'root': {'level': 'WARNING'}}}"
)


def pld_script() -> str:
    return str(Path(sys.executable).parent / "pld")


def run(folder: Path, command: list[str]) -> float:
    """Wall seconds of the command (which must succeed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = "config.py,quiet.py"
    start = time.perf_counter()
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return seconds


def prepare(folder: Path, rows: int, parts: int, fmt: str) -> None:
    """The fitted iris example, and ``rows`` samples in ``parts`` files under parts/."""
    for name in ("config.py", "iris.data"):
        shutil.copy(REPO / "examples" / "iris" / name, folder / name)
    (folder / "quiet.py").write_text(QUIET)
    run(folder, [pld_script(), "fit"])
    base = numpy.loadtxt(folder / "iris.data", delimiter=",", usecols=range(4))
    rng = numpy.random.default_rng(0)
    (folder / "parts").mkdir()
    per_part = -(-rows // parts)
    for index, start in enumerate(range(0, rows, per_part)):
        count = min(per_part, rows - start)
        values = base[rng.integers(0, len(base), count)] + rng.uniform(-0.2, 0.2, (count, 4))
        table = pyarrow.table(dict(zip(FIELDS, values.round(2).T, strict=True)))
        path = folder / "parts" / f"part-{index:03d}.{fmt}"
        if fmt == "csv":
            pyarrow.csv.write_csv(table, path)
        else:
            pyarrow.parquet.write_table(table, path)


def same_output(one: Path, other: Path) -> bool:
    names = sorted(os.listdir(one))
    if names != sorted(os.listdir(other)):
        return False
    files = [name for name in names if name != "_SUCCESS"]
    _, mismatch, errors = filecmp.cmpfiles(one, other, files, shallow=False)
    return not mismatch and not errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--parts", type=int, default=20)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pld-bench-dask-") as tmp:
        folder = Path(tmp)
        prepare(folder, args.rows, args.parts, args.format)
        size = sum(p.stat().st_size for p in (folder / "parts").iterdir()) / 1e6
        # Workers start in this process's folder, and the iris config's store is a relative
        # path ('sqlite:///iris-model.db'): the cluster must start where pld runs.
        os.chdir(folder)
        with LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster:
            pld = [pld_script(), "predict", "-i", "parts"]
            cases = {
                "1 process": [*pld, "-o", "one"],
                "2 dask workers (cluster up)": [
                    *pld,
                    "-o",
                    "running",
                    "--scheduler",
                    cluster.scheduler_address,
                ],
                "2 dask workers (local:2)": [*pld, "-o", "local", "--scheduler", "local:2"],
            }
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(args.runs):
                for name, command in cases.items():
                    times[name].append(run(folder, command))
        os.chdir(REPO)
        for name in ("running", "local"):
            assert same_output(folder / "one", folder / name), f"{name} differs from one process"

    medians = {name: statistics.median(values) for name, values in times.items()}
    one = medians["1 process"]
    print(
        f"{args.rows} rows in {args.parts} {args.format} partitions ({size:.0f} MB), "
        f"median of {args.runs} interleaved runs; {os.cpu_count()} cores, shared"
    )
    print(f"{'case':30} {'wall s':>8} {'rows/s':>10} {'vs 1 process':>13}")
    for name, seconds in medians.items():
        print(f"{name:30} {seconds:8.1f} {args.rows / seconds:10.0f} {one / seconds:12.2f}x")
    print("outputs: identical to the single process's, file by file")


if __name__ == "__main__":
    main()
