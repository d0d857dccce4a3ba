"""``pld predict``: predictions for a file of samples, through the one predict path.

Samples come as CSV (a header row names the fields), JSON lines (one object per line) or a
JSON list of objects, and are predicted in batches by the same :class:`~pld_core.PredictPath`
``/predict`` and ``pld stream`` use, so a bad sample gets the same message. Each output record is
the input record plus its ``prediction``. A batch with a bad sample is retried sample by
sample, so one bad row costs only itself: it gets an ``error`` instead of a prediction, and the
command reports it and exits non-zero once every good row is written.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any

import click

from pld_core import (
    VERSION,
    ModelSource,
    PldError,
    PredictPath,
    command_config,
    common_options,
    decode,
    encode_text,
    error_text,
    hookimpl,
    make_predict_path,
)

FORMATS = ("csv", "jsonl", "json")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
PREDICTION = "prediction"
ERROR = "error"


#: Bad rows ``pld predict`` names on stderr; all of them are in its output.
SHOWN_ROW_ERRORS = 20


class BatchInputError(PldError):
    """The input file as a whole cannot be read (not one bad row: those are reported)."""

    exit_code = 2


def format_of(path: str, given: str | None) -> str:
    """The file format: ``given``, else from the extension."""
    if given:
        return given
    extension = os.path.splitext(path)[1].lower()
    if extension not in _EXTENSIONS:
        raise BatchInputError(
            f"cannot tell the format of {path!r} from its extension; pass --format "
            f"({', '.join(FORMATS)})"
        )
    return _EXTENSIONS[extension]


@dataclass
class Row:
    """One input sample: its 1-based position, its record, and what went wrong reading it."""

    number: int
    record: Any
    error: str | None = None


def read_rows(stream: IO[str], fmt: str) -> Iterator[Row]:
    """The samples of ``stream``, lazily (a JSON list is read whole)."""
    if fmt == "csv":
        for number, record in enumerate(csv.DictReader(stream), start=1):
            yield Row(number, record)
    elif fmt == "jsonl":
        number = 0
        for line in stream:
            if not line.strip():
                continue
            number += 1
            try:
                yield Row(number, decode(line))
            except ValueError as exc:
                yield Row(
                    number, line.rstrip("\n"), f"BadRequest: the line is not valid JSON: {exc}"
                )
    elif fmt == "json":
        try:
            records = decode(stream.read())
        except ValueError as exc:
            raise BatchInputError(f"the input is not valid JSON: {exc}") from None
        if not isinstance(records, list):
            raise BatchInputError("a JSON input must hold one list of objects")
        for number, record in enumerate(records, start=1):
            yield Row(number, record)
    else:
        raise BatchInputError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


@dataclass
class BatchReport:
    """What a run did: rows read and predicted, and the bad ones by row number."""

    rows: int = 0
    predicted: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


class BatchPredictor:
    """Predicts rows in batches on a predict path and names the bad ones."""

    def __init__(self, path: PredictPath, batch_size: int = 1000):
        self.path = path
        self.batch_size = batch_size

    def predictions(self, rows: Iterable[Row], report: BatchReport) -> Iterator[tuple[Row, Any]]:
        """``(row, prediction)`` pairs in input order; a bad row's prediction is ``None``."""
        iterator = iter(rows)
        while batch := list(islice(iterator, self.batch_size)):
            report.rows += len(batch)
            yield from self._predict_batch(batch, report)

    def _predict_batch(self, batch: list[Row], report: BatchReport) -> Iterator[tuple[Row, Any]]:
        good = [row for row in batch if row.error is None]
        try:
            predicted = dict(zip(map(id, good), self._predict(good), strict=True))
        except Exception:  # find the culprits: one row at a time
            predicted = {}
            for row in good:
                try:
                    predicted[id(row)] = self._predict([row])[0]
                except Exception as exc:
                    row.error = error_text(exc)
        for row in batch:
            if row.error is not None:
                report.errors.append((row.number, row.error))
                yield row, None
            else:
                report.predicted += 1
                yield row, predicted[id(row)]

    def _predict(self, rows: list[Row]) -> list[Any]:
        if not rows:
            return []
        values = self.path.predict([row.record for row in rows])
        if len(values) != len(rows):
            raise ValueError(f"the model gave {len(values)} predictions for {len(rows)} samples")
        return values


def output_record(row: Row, prediction: Any, keep_input: bool) -> dict[str, Any]:
    """The record written for ``row``: its input fields (unless dropped) and the outcome."""
    record: dict[str, Any] = dict(row.record) if keep_input and isinstance(row.record, dict) else {}
    if row.error is not None:
        record[PREDICTION] = None
        record[ERROR] = row.error
    else:
        record[PREDICTION] = prediction
    return record


class CsvWriter:
    """CSV output; the header comes from the first record, a list prediction is spread out.

    A prediction that is a list (``predict_proba``) becomes one column per entry, named after
    the model's classes when it has them: ``prediction_Iris-setosa``, ...
    """

    def __init__(self, stream: IO[str], labels: list[str] | None):
        self.stream = stream
        self.labels = labels
        self.writer: Any = None
        self.columns: list[str] = []

    def write(self, record: dict[str, Any]) -> None:
        flat = self._flatten(record)
        if self.writer is None:
            self.columns = [name for name in flat if name != ERROR] + [ERROR]
            self.writer = csv.DictWriter(
                self.stream, self.columns, extrasaction="ignore", lineterminator="\n"
            )
            self.writer.writeheader()
        self.writer.writerow(flat)

    def _flatten(self, record: dict[str, Any]) -> dict[str, Any]:
        prediction = record.get(PREDICTION)
        if not isinstance(prediction, list):
            return record
        names = self.labels if self.labels and len(self.labels) == len(prediction) else None
        flat = {k: v for k, v in record.items() if k != PREDICTION}
        for index, value in enumerate(prediction):
            flat[f"{PREDICTION}_{names[index] if names else index}"] = value
        return flat

    def close(self) -> None:
        return None


class JsonLinesWriter:
    """One compact JSON object per line."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def write(self, record: dict[str, Any]) -> None:
        self.stream.write(encode_text(record) + "\n")

    def close(self) -> None:
        return None


class JsonListWriter:
    """One JSON list of objects, written as it goes."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.first = True

    def write(self, record: dict[str, Any]) -> None:
        self.stream.write("[\n" if self.first else ",\n")
        self.stream.write(encode_text(record))
        self.first = False

    def close(self) -> None:
        self.stream.write("[]\n" if self.first else "\n]\n")


def make_writer(stream: IO[str], fmt: str, labels: list[str] | None) -> Any:
    """The writer for ``fmt``."""
    if fmt == "csv":
        return CsvWriter(stream, labels)
    if fmt == "jsonl":
        return JsonLinesWriter(stream)
    return JsonListWriter(stream)


@contextlib.contextmanager
def open_output(path: str) -> Iterator[IO[str]]:
    """``path`` for writing, all or nothing: a temporary file renamed into place at the end.

    ``-`` is stdout. If the run fails, an existing file at ``path`` is left as it was.
    """
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    folder = os.path.dirname(os.path.abspath(path))
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 -- renamed or removed below
        "w", dir=folder, prefix=".pld-predict-", suffix=".tmp", delete=False, newline=""
    )
    try:
        with handle:
            yield handle
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise


@contextlib.contextmanager
def open_input(path: str) -> Iterator[IO[str]]:
    """``path`` for reading as text (``-`` is stdin)."""
    if path == "-":
        yield sys.stdin
        return
    try:
        handle = open(path, encoding="utf-8", newline="")  # noqa: SIM115 -- closed below
    except OSError as exc:
        raise BatchInputError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        yield handle


def run_batch(
    path: PredictPath,
    source: str,
    target: str,
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    batch_size: int = 1000,
    keep_input: bool = True,
) -> BatchReport:
    """Predict every sample of ``source`` on ``path`` and write the results to ``target``."""
    in_fmt = format_of(source, input_format) if source != "-" or input_format else "jsonl"
    out_fmt = output_format or (format_of(target, None) if target != "-" else in_fmt)
    if out_fmt not in FORMATS:
        raise BatchInputError(f"unknown format {out_fmt!r} (known: {', '.join(FORMATS)})")
    labels = _class_labels(path.model())
    predictor = BatchPredictor(path, batch_size)
    report = BatchReport()
    with open_input(source) as stream, open_output(target) as out:
        writer = make_writer(out, out_fmt, labels)
        for row, prediction in predictor.predictions(read_rows(stream, in_fmt), report):
            writer.write(output_record(row, prediction, keep_input))
        writer.close()
    return report


def _class_labels(model: Any) -> list[str] | None:
    classes = getattr(model, "classes_", None)
    return None if classes is None else [str(label) for label in list(classes)]


@click.command("predict")
@common_options
@click.option(
    "--input",
    "-i",
    "source",
    default="-",
    show_default=True,
    metavar="FILE",
    help="Samples: CSV with a header row, JSON lines (one object each) or a JSON list. "
    "'-' reads stdin.",
)
@click.option(
    "--output",
    "-o",
    "target",
    default="-",
    show_default=True,
    metavar="FILE",
    help="Where to write the input records with their predictions; '-' is stdout.",
)
@click.option(
    "--format",
    "input_format",
    type=click.Choice(FORMATS),
    help="The input format. Default: from the file's extension; jsonl for stdin.",
)
@click.option(
    "--output-format",
    type=click.Choice(FORMATS),
    help="The output format. Default: from the file's extension, else the input's.",
)
@click.option(
    "--service",
    default="predict_service",
    show_default=True,
    help="The config entry of the predict service to use.",
)
@click.option(
    "--model-version",
    type=VERSION,
    metavar="VERSION",
    help="The stored version to predict with. Default: the active one.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Samples predicted per call to the model.",
)
@click.option(
    "--predictions-only", is_flag=True, help="Write only the predictions, not the input fields."
)
def predict_command(
    source: str,
    target: str,
    input_format: str | None,
    output_format: str | None,
    service: str,
    model_version: int | None,
    batch_size: int,
    predictions_only: bool,
) -> None:
    """Predict a file of samples in batches, through the same path as /predict.

    Each output record is the input record plus "prediction"; a sample that cannot be
    predicted gets an "error" instead, is reported on stderr, and makes the exit status 1
    once all the others are written.
    """
    config = command_config(mode=None)
    path = make_predict_path(config, service, ModelSource(config, version=model_version))
    report = run_batch(
        path,
        source,
        target,
        input_format=input_format,
        output_format=output_format,
        batch_size=batch_size,
        keep_input=not predictions_only,
    )
    for number, message in report.errors[:SHOWN_ROW_ERRORS]:
        click.echo(f"row {number}: {message}", err=True)
    if len(report.errors) > SHOWN_ROW_ERRORS:
        hidden = len(report.errors) - SHOWN_ROW_ERRORS
        click.echo(
            f"... and {hidden} more rows with errors (see the output's error field)", err=True
        )
    summary = f"Predicted {report.predicted} of {report.rows} rows"
    if target != "-":
        summary += f" into {target}"
    if report.errors:
        raise PldError(f"{summary}; {len(report.errors)} could not be predicted.")
    click.echo(summary + ".", err=True)


@hookimpl
def pld_register_commands(register: Callable[..., None]) -> None:
    register(predict_command)
