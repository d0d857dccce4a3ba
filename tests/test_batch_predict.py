"""``pld predict`` scores files as ``/predict`` scores requests, and bad rows cost only themselves.

The installed ``pld`` runs against the fitted iris store; answers are compared with the WSGI
app's ``/predict`` for the same samples, and with the model's own. A directory of partitions
scored on a real dask ``LocalCluster`` must give the single-process output byte for byte.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow
import pyarrow.csv
import pyarrow.parquet
import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from pld_core import (
    create_app,
    fit,
    get_plugin_manager,
    hookimpl,
    load_config,
    make_cli,
    process_store,
)

FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
IRIS_DATA = Path(__file__).resolve().parents[1] / "examples" / "iris" / "iris.data"
PROBA_SERVICE = """
    'proba_service': {
        '!': 'predict-service', 'predict_proba': True, 'entry_point': '/proba',
        'mapping': [('sepal length', 'float'), ('sepal width', 'float'),
                    ('petal length', 'float'), ('petal width', 'float')],
    },"""


def iris_samples() -> list[dict[str, str]]:
    with IRIS_DATA.open() as handle:
        return [dict(zip(FIELDS, line.strip().split(",")[:4], strict=True)) for line in handle]


def write_csv(path: Path, records: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(records)


def pld(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = str(config)
    return subprocess.run(
        [str(Path(sys.executable).parent / "pld"), *args],
        cwd=config.parent,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def served(config: Path, records: list[dict], path: str = "/predict") -> list:
    client = Client(create_app(load_config(str(config))))
    numbers = [{k: float(v) for k, v in record.items()} for record in records]
    return client.post(path, json=numbers).json["result"]


def test_a_csv_file_gets_the_predictions_predict_gives(fitted_iris, tmp_path):
    samples = iris_samples()
    write_csv(tmp_path / "samples.csv", samples)
    result = pld(fitted_iris, "predict", "-i", "samples.csv", "-o", "out.csv", "--batch-size", "7")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"Predicted {len(samples)} of 150 rows into out.csv."
    with (tmp_path / "out.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [{k: row[k] for k in FIELDS} for row in rows] == samples
    assert [row["prediction"] for row in rows] == served(fitted_iris, samples)
    assert {row["error"] for row in rows} == {""}


def test_bad_rows_get_an_error_and_the_rest_is_predicted(fitted_iris, tmp_path):
    samples = iris_samples()[:10]
    broken = [dict(record) for record in samples]
    broken[2]["sepal width"] = "wide"
    broken[7]["petal length"] = ""  # an empty cell
    write_csv(tmp_path / "samples.csv", broken)
    result = pld(
        fitted_iris, "predict", "-i", "samples.csv", "-o", "out.jsonl", "--batch-size", "4"
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-3:] == [
        "row 3: BadRequest: parameter 'sepal width': could not convert string to float: 'wide'",
        "row 8: BadRequest: parameter 'petal length': could not convert string to float: ''",
        "Error: Predicted 8 of 10 rows into out.jsonl; 2 could not be predicted.",
    ]
    assert "Traceback" not in result.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    expected = served(fitted_iris, samples)
    for number, (record, answer) in enumerate(zip(out, expected, strict=True), start=1):
        if number in (3, 8):
            assert record["prediction"] is None and record["error"].startswith("BadRequest: ")
        else:
            assert record["prediction"] == answer and "error" not in record


def test_many_bad_rows_are_counted_not_all_printed(fitted_iris, tmp_path):
    rows = [dict(zip(FIELDS, ["x", "1", "1", "1"], strict=True))] * 25 + iris_samples()[:5]
    write_csv(tmp_path / "samples.csv", rows)
    result = pld(fitted_iris, "predict", "-i", "samples.csv", "-o", "out.csv")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert sum(line.startswith("row ") for line in lines) == 20
    assert lines[-2:] == [
        "... and 5 more rows with errors (see the output's error field)",
        "Error: Predicted 5 of 30 rows into out.csv; 25 could not be predicted.",
    ]
    with (tmp_path / "out.csv").open(newline="") as handle:
        assert sum(1 for row in csv.DictReader(handle) if row["error"]) == 25


def test_stdin_to_stdout_with_a_chosen_version(fitted_iris, write_iris_config):
    samples = iris_samples()
    version_1 = served(fitted_iris, samples)
    process_store.clear()
    # Version 2 is a much weaker model (tiny C): it disagrees with version 1 on some rows.
    weak = write_iris_config(
        "\n    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 1e-4},"
    )
    fit(load_config(str(weak), __mode__="fit"))
    lines = "".join(json.dumps({k: float(v) for k, v in s.items()}) + "\n" for s in samples)

    def predictions(*args: str) -> list:
        result = pld(weak, "predict", "--predictions-only", *args, stdin=lines)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    active, first = predictions(), predictions("--model-version", "1")
    assert set(active[0]) == {"prediction"}
    assert [r["prediction"] for r in active] == served(weak, samples)
    assert active != first
    assert [r["prediction"] for r in first] == version_1


def test_probabilities_become_one_column_per_class(fitted_iris, write_iris_config, tmp_path):
    config = write_iris_config(PROBA_SERVICE)
    samples = iris_samples()[:5]
    (tmp_path / "samples.json").write_text(json.dumps(samples))
    result = pld(
        config,
        "predict",
        "-i",
        "samples.json",
        "--service",
        "proba_service",
        "--output-format",
        "csv",
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    columns = ["prediction_Iris-setosa", "prediction_Iris-versicolor", "prediction_Iris-virginica"]
    assert list(rows[0]) == [*FIELDS, *columns, "error"]
    expected = served(config, samples, "/proba")
    for row, probabilities in zip(rows, expected, strict=True):
        assert [float(row[c]) for c in columns] == pytest.approx(probabilities)


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("[{", ["-i", "in.json"], "Error: the input is not valid JSON: "),
        ("{}", ["-i", "in.json"], "Error: a JSON input must hold one list of objects"),
        ("a,b", ["-i", "in.txt"], "Error: cannot tell the format of 'in.txt' from its extension"),
        (None, ["-i", "missing.csv"], "Error: cannot read missing.csv: No such file or directory"),
        ("[]", ["-i", "in.json", "--service", "model"], "Error: "),
    ],
)
def test_unreadable_input_is_one_line_and_leaves_the_output_alone(
    fitted_iris, tmp_path, content, args, message
):
    if content is not None:
        (tmp_path / args[1]).write_text(content)
    (tmp_path / "out.json").write_text("previous results")
    result = pld(fitted_iris, "predict", *args, "-o", "out.json")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1].startswith(message)
    assert "Traceback" not in result.stderr
    assert (tmp_path / "out.json").read_text() == "previous results"
    assert not list(tmp_path.glob(".pld-predict-*"))


# -- columns: CSV and Parquet through pyarrow, chunks, bad rows anywhere --------------------


def model_predictions(config: Path, records: list[dict[str, str]]) -> list[str]:
    """What the stored model itself answers, without any of pld's predict path."""
    model = load_config(str(config))["model_persister"].read()
    rows = [[float(record[name]) for name in FIELDS] for record in records]
    return [str(label) for label in model.predict(rows)]


def many_samples(count: int) -> list[dict[str, str]]:
    base = iris_samples()
    return [base[index % len(base)] for index in range(count)]


def test_csv_in_several_chunks_keeps_order_and_finds_a_late_bad_row(fitted_iris, tmp_path):
    samples = many_samples(120_000)  # about 2.4 MB: three CSV chunks of 1 MiB
    broken = [dict(record) for record in samples]
    broken[99_999]["petal width"] = "thin"
    write_csv(tmp_path / "samples.csv", broken)
    result = pld(fitted_iris, "predict", "-i", "samples.csv", "-o", "out.csv")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-2:] == [
        "row 100000: BadRequest: parameter 'petal width': could not convert string to float: "
        "'thin'",
        "Error: Predicted 119999 of 120000 rows into out.csv; 1 could not be predicted.",
    ]
    table = pyarrow.csv.read_csv(
        tmp_path / "out.csv",
        convert_options=pyarrow.csv.ConvertOptions(
            column_types=dict.fromkeys([*FIELDS, "prediction", "error"], pyarrow.string()),
            strings_can_be_null=True,
        ),
    )
    rows = table.to_pylist()
    assert [{k: row[k] for k in FIELDS} for row in rows] == broken
    expected = model_predictions(fitted_iris, samples)
    expected[99_999] = None
    assert [row["prediction"] for row in rows] == expected
    assert [index for index, row in enumerate(rows) if row["error"]] == [99_999]


def test_rows_with_the_wrong_number_of_fields_keep_their_place(fitted_iris, tmp_path):
    lines = [",".join(FIELDS), "5.1,3.5,1.4,0.2", "6.3,2.5", "6.3,2.5,4.9,1.5,9", "7.7,3.0,6.1,2.3"]
    (tmp_path / "samples.csv").write_text("\n".join(lines) + "\n")
    result = pld(fitted_iris, "predict", "-i", "samples.csv", "-o", "out.jsonl")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-3:] == [
        "row 2: BadRequest: the row has 2 fields; the header has 4",
        "row 3: BadRequest: the row has 5 fields; the header has 4",
        "Error: Predicted 2 of 4 rows into out.jsonl; 2 could not be predicted.",
    ]
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["prediction"] for row in out] == [
        "Iris-setosa",
        None,
        None,
        "Iris-virginica",
    ]
    assert out[0]["sepal length"] == "5.1" and out[1]["error"].startswith("BadRequest: ")


@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv", "out.jsonl", "out.json"])
def test_parquet_in_every_format_out(fitted_iris, tmp_path, out_name):
    samples = many_samples(2_500)
    table = pyarrow.table({name: [float(s[name]) for s in samples] for name in FIELDS})
    pyarrow.parquet.write_table(table, tmp_path / "samples.parquet", row_group_size=1000)
    args = ["-i", "samples.parquet", "-o", out_name, "--batch-size", "700"]
    result = pld(fitted_iris, "predict", *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == f"Predicted 2500 of 2500 rows into {out_name}."
    rows = read_output(tmp_path / out_name)
    assert [row["prediction"] for row in rows] == model_predictions(fitted_iris, samples)
    assert [float(row["petal width"]) for row in rows] == table.column("petal width").to_pylist()


def read_output(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        return pyarrow.parquet.read_table(path).to_pylist()
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    return json.loads(path.read_text())


def test_csv_to_parquet_probabilities_and_predictions_only(
    fitted_iris, write_iris_config, tmp_path
):
    config = write_iris_config(PROBA_SERVICE)
    samples = iris_samples()
    write_csv(tmp_path / "samples.csv", samples)
    args = ["-i", "samples.csv", "-o", "out.parquet", "--service", "proba_service"]
    result = pld(config, "predict", *args, "--predictions-only")
    assert result.returncode == 0, result.stderr
    table = pyarrow.parquet.read_table(tmp_path / "out.parquet")
    columns = ["prediction_Iris-setosa", "prediction_Iris-versicolor", "prediction_Iris-virginica"]
    assert table.column_names == [*columns, "error"]
    assert table.schema.field(columns[0]).type == pyarrow.float64()
    expected = served(config, samples, "/proba")
    got = [[row[c] for c in columns] for row in table.to_pylist()]
    assert got == [pytest.approx(p) for p in expected]
    assert table.column("error").null_count == len(samples)


def test_a_bad_row_in_parquet_is_isolated(fitted_iris, tmp_path):
    values = {name: [float(s[name]) for s in iris_samples()[:50]] for name in FIELDS}
    values["sepal width"][17] = None  # a missing value: what /predict says about null
    pyarrow.parquet.write_table(pyarrow.table(values), tmp_path / "samples.parquet")
    result = pld(fitted_iris, "predict", "-i", "samples.parquet", "-o", "out.parquet")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-2].startswith("row 18: BadRequest: parameter 'sepal width'")
    rows = pyarrow.parquet.read_table(tmp_path / "out.parquet").to_pylist()
    assert [index for index, row in enumerate(rows) if row["prediction"] is None] == [17]
    assert rows[17]["error"] == result.stderr.splitlines()[-2].removeprefix("row 18: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-i", "in.csv", "-o", "no/such/folder/out.csv"], "Error: cannot write "),
        (["-i", "in.csv", "--output-format", "parquet"], "Error: Parquet output must be a file"),
        (["--format", "parquet", "-o", "o.csv"], "Error: Parquet input must be a file, not stdin"),
        (["-i", "in.csv", "-o", "out.txt"], "Error: cannot tell the format of 'out.txt'"),
    ],
)
def test_outputs_that_cannot_be_written_are_one_line(fitted_iris, tmp_path, args, message):
    write_csv(tmp_path / "in.csv", iris_samples()[:3])
    result = pld(fitted_iris, "predict", *args, stdin="")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1].startswith(message)
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.rglob(".pld-predict-*"))


# -- a directory of partitions: in one process, or on a real dask LocalCluster --------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A real LocalCluster of two single-threaded worker processes on 127.0.0.1, and a client.

    ``pld predict --scheduler tcp://...`` sends it the partitions.
    """
    distributed = pytest.importorskip("distributed", reason="needs dask.distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as local_cluster,
        distributed.Client(local_cluster) as client,
    ):
        yield client


def write_partitions(folder: Path) -> list[dict[str, str]]:
    """Five partitions (four CSV, one Parquet) of the iris samples; row 3 of part-1 is bad."""
    folder.mkdir()
    samples = iris_samples()
    for index in range(4):
        part = [dict(record) for record in samples[index * 30 : (index + 1) * 30]]
        if index == 1:
            part[2]["sepal width"] = "wide"
        write_csv(folder / f"part-{index}.csv", part)
    values = {name: [float(s[name]) for s in samples[120:]] for name in FIELDS}
    pyarrow.parquet.write_table(pyarrow.table(values), folder / "part-4.parquet")
    (folder / "_notes.txt").write_text("not an input")
    return samples


@pytest.mark.slow
def test_a_cluster_writes_what_one_process_writes(fitted_iris, tmp_path, cluster):
    write_partitions(tmp_path / "parts")
    single = pld(fitted_iris, "predict", "-i", "parts", "-o", "single", "--output-format", "csv")
    args = ["-i", "parts", "-o", "dask", "--output-format", "csv"]
    on_dask = pld(fitted_iris, "predict", *args, "--scheduler", cluster.scheduler.address)
    bad = "part-1.csv row 3: BadRequest: parameter 'sepal width': could not convert string to "
    for result in (single, on_dask):
        assert result.returncode == 1, result.stderr
        lines = result.stderr.splitlines()
        assert sorted(line.split("]")[0] for line in lines if line.startswith("[")) == [
            f"[{n}/5" for n in range(1, 6)
        ]
        assert "[2/5] part-1.csv: 30 rows, 1 with errors" in lines or any(
            line.endswith("part-1.csv: 30 rows, 1 with errors") for line in lines
        )
        assert lines[-2].startswith(bad)
        assert lines[-1] == (
            f"Error: Predicted 149 of 150 rows in 5 partitions into "
            f"{'single' if result is single else 'dask'}; 1 could not be predicted."
        )
    names = sorted(os.listdir(tmp_path / "single"))
    assert names == ["_SUCCESS", *(f"part-{n}.csv" for n in range(5))]
    assert sorted(os.listdir(tmp_path / "dask")) == names
    for name in names[1:]:
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "single" / name).read_bytes()
    with (tmp_path / "single" / "part-1.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["error"] != "" for row in rows].count(True) == 1 and rows[2]["prediction"] == ""
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pld-predict-")]
    # each worker process built its predict path once, however many partitions it scored
    built = cluster.run(_paths_built)
    assert sum(built.values()) >= 1 and set(built.values()) <= {0, 1}


def _paths_built() -> int:
    from pld_core.default_plugins.batch import partitions

    return len(partitions._paths)


@pytest.mark.slow
def test_a_failed_run_leaves_the_previous_output_as_it_was(fitted_iris, tmp_path):
    write_partitions(tmp_path / "parts")
    first = pld(fitted_iris, "predict", "-i", "parts", "-o", "out")
    assert first.returncode == 1, first.stderr
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert set(before) == {"_SUCCESS", *(f"part-{n}.csv" for n in range(4)), "part-4.parquet"}
    (tmp_path / "parts" / "part-5.json").write_text("[{")
    again = pld(fitted_iris, "predict", "-i", "parts", "-o", "out")
    assert again.returncode == 2
    assert again.stderr.splitlines()[-1].startswith("Error: the input is not valid JSON")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pld-predict-")]


def test_a_glob_picks_the_partitions(fitted_iris, tmp_path):
    write_partitions(tmp_path / "parts")
    result = pld(fitted_iris, "predict", "-i", "parts/part-[23].csv", "-o", "out")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "Predicted 60 of 60 rows in 2 partitions into out."
    assert sorted(os.listdir(tmp_path / "out")) == ["_SUCCESS", "part-2.csv", "part-3.csv"]
    assert (tmp_path / "out" / "_SUCCESS").read_text() == "60 rows, 2 partitions\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-i", "one.csv", "--scheduler", "local:2"], "Error: --scheduler needs a directory"),
        (["-i", "parts", "-o", "-"], "Error: a directory of inputs needs an output directory"),
        (["-i", "nothing-*.csv", "-o", "out"], "Error: nothing-*.csv names no input files"),
    ],
)
def test_partition_usage_errors_are_one_line(fitted_iris, tmp_path, args, message):
    write_partitions(tmp_path / "parts")
    write_csv(tmp_path / "one.csv", iris_samples()[:2])
    result = pld(fitted_iris, "predict", *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1].startswith(message)
    assert "Traceback" not in result.stderr


class ThreadExecutorPlugin:
    """Answers ``pld_batch_executor`` with a thread pool, counting the partitions sent."""

    def __init__(self) -> None:
        self.schedulers: list[str] = []
        self.submitted = 0

    @hookimpl
    def pld_batch_executor(self, scheduler):
        self.schedulers.append(scheduler)
        plugin = self

        class Counting(concurrent.futures.ThreadPoolExecutor):
            def submit(self, fn, /, *args, **kwargs):
                plugin.submitted += 1
                return super().submit(fn, *args, **kwargs)

        return Counting(max_workers=2)  # an Executor is its own context manager


def test_hook_pld_batch_executor(fitted_iris, tmp_path):
    write_partitions(tmp_path / "parts")
    plugin = ThreadExecutorPlugin()
    pm = get_plugin_manager()
    pm.register(plugin, name="threads")
    args = ["predict", "-c", str(fitted_iris), "-i", str(tmp_path / "parts")]
    result = CliRunner().invoke(
        make_cli(pm), [*args, "-o", str(tmp_path / "out"), "--scheduler", "threads://"]
    )
    assert result.exit_code == 1, result.output
    assert plugin.schedulers == ["threads://"] and plugin.submitted == 5
    assert len(list((tmp_path / "out").iterdir())) == 6
