"""Batch prediction benchmark: ``pld predict`` on a large CSV vs a hand-written pandas script.

Fits the iris example (LogisticRegression) into a temporary folder, writes ROWS samples as
CSV, then times, as whole processes (interpreter start and model load included):

- ``pld predict -i samples.csv -o out.csv`` (input columns kept, batches of --batch-size),
- the same with ``--predictions-only``, and with JSON lines in and out,
- the baseline: ``pandas.read_csv`` → ``model.predict`` on the whole frame → ``to_csv``, the
  script a user would write by hand, with the same model read from the same store.

Also times a 1-row ``pld predict`` to separate start-up from per-row cost. Reports the median
of --runs runs of each, rows per second, and pld's time over the baseline's.

    python bench/batch_predict.py [--rows 200000] [--runs 3] [--batch-size 1000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
QUIET = (
    "{'logging': {'version': 1, 'disable_existing_loggers': False, 'root': {'level': 'WARNING'}}}"
)
BASELINE = """
import sys
import pandas
from pld_core import load_config
model = load_config("config.py,quiet.py", __mode__="fit")["model_persister"].read()
frame = pandas.read_csv(sys.argv[1])
frame["prediction"] = model.predict(frame[{fields!r}].to_numpy(dtype=float))
frame.to_csv(sys.argv[2], index=False)
"""


def prepare(folder: Path, rows: int) -> None:
    """The iris example fitted in ``folder``, plus samples.csv/.jsonl and a 1-row file."""
    for name in ("config.py", "iris.data"):
        shutil.copy(REPO / "examples" / "iris" / name, folder / name)
    (folder / "quiet.py").write_text(QUIET)
    run(folder, [pld_script(), "fit"], check=True)
    rng = random.Random(0)
    with (folder / "iris.data").open() as handle:
        base = [line.strip().split(",")[:4] for line in handle if line.strip()]
    samples = [
        {
            name: f"{float(value) + rng.uniform(-0.2, 0.2):.2f}"
            for name, value in zip(FIELDS, row, strict=True)
        }
        for row in (rng.choice(base) for _ in range(rows))
    ]
    with (folder / "samples.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(samples)
    with (folder / "samples.jsonl").open("w") as handle:
        for sample in samples:
            handle.write(json.dumps({k: float(v) for k, v in sample.items()}) + "\n")
    with (folder / "one.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerow(samples[0])
    (folder / "baseline.py").write_text(BASELINE.format(fields=FIELDS))


def pld_script() -> str:
    return str(Path(sys.executable).parent / "pld")


def run(folder: Path, command: list[str], check: bool = False) -> float:
    """Seconds the command took."""
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = "config.py,quiet.py"
    start = time.perf_counter()
    subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pld-bench-batch-") as tmp:
        folder = Path(tmp)
        prepare(folder, args.rows)
        size = ["--batch-size", str(args.batch_size)]
        cases = {
            "baseline (pandas script)": [sys.executable, "baseline.py", "samples.csv", "b.csv"],
            "pld predict csv -> csv": [
                pld_script(),
                "predict",
                "-i",
                "samples.csv",
                "-o",
                "p.csv",
                *size,
            ],
            "pld predict csv, predictions only": [
                pld_script(),
                "predict",
                "-i",
                "samples.csv",
                "-o",
                "q.csv",
                "--predictions-only",
                *size,
            ],
            "pld predict jsonl -> jsonl": [
                pld_script(),
                "predict",
                "-i",
                "samples.jsonl",
                "-o",
                "p.jsonl",
                *size,
            ],
            "pld predict, 1 row (start-up)": [
                pld_script(),
                "predict",
                "-i",
                "one.csv",
                "-o",
                "one-out.csv",
            ],
        }
        times = {name: [] for name in cases}
        for _ in range(args.runs):  # interleaved, so drift in machine load hits every case
            for name, command in cases.items():
                times[name].append(run(folder, command))

        with (folder / "p.csv").open() as mine, (folder / "b.csv").open() as theirs:
            ours = [row["prediction"] for row in csv.DictReader(mine)]
            baseline = [row["prediction"] for row in csv.DictReader(theirs)]
        assert ours == baseline, "pld predict and the baseline disagree"

    medians = {name: statistics.median(values) for name, values in times.items()}
    startup = medians["pld predict, 1 row (start-up)"]
    base = medians["baseline (pandas script)"]
    print(f"{args.rows} rows, batch size {args.batch_size}, median of {args.runs} runs")
    print(f"{'case':38} {'seconds':>8} {'rows/s':>10} {'vs baseline':>12}")
    for name, seconds in medians.items():
        rate = args.rows / seconds if "1 row" not in name else 1 / seconds
        print(f"{name:38} {seconds:8.2f} {rate:10.0f} {seconds / base:11.2f}x")
    per_row = (medians["pld predict csv -> csv"] - startup) / args.rows * 1e6
    print(f"pld predict per row after start-up: {per_row:.1f} us")


if __name__ == "__main__":
    main()
