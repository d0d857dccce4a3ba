"""Scored chunks to the output file, written all or nothing (a temporary file, then renamed).

Each output row is the input row (unless only predictions are asked for) plus ``prediction``
and, for a row that could not be predicted, ``error``. Class probabilities are one column per
class in CSV and Parquet (``prediction_<class>``) and a list in JSON. CSV and Parquet are
written by pyarrow, columns at a time; the first chunk fixes the columns and their types.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from pld_core import encode
from pld_core.default_plugins.batch.arrays import as_text
from pld_core.default_plugins.batch.chunks import Scored
from pld_core.default_plugins.batch.options import ERROR, PREDICTION, BatchInputError

#: Temporary files are named so; a run that fails removes its own.
TEMPORARY_PREFIX = ".pld-predict-"


@contextlib.contextmanager
def open_output(path: str) -> Iterator[IO[bytes]]:
    """``path`` for writing bytes, all or nothing: a temporary file renamed into place.

    ``-`` is stdout. If the run fails, an existing file at ``path`` is left as it was.
    """
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 -- renamed or removed below
            "wb", dir=folder, prefix=TEMPORARY_PREFIX, suffix=".tmp", delete=False
        )
    except OSError as exc:
        raise BatchInputError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with handle:
            yield handle
        os.chmod(handle.name, 0o666 & ~current_umask())  # as open() would have made it
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise


def current_umask() -> int:
    """The process's umask (temporary files are made private; outputs should not be)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def prediction_names(width: int, labels: list[str] | None) -> list[str]:
    """Names of the prediction columns: ``prediction``, or one per class."""
    if width == 1:
        return [PREDICTION]
    names = labels if labels and len(labels) == width else [str(i) for i in range(width)]
    return [f"{PREDICTION}_{name}" for name in names]


class ColumnsWriter:
    """CSV or Parquet output, a record batch per chunk; the first chunk fixes the columns."""

    def __init__(self, sink: IO[bytes], fmt: str, keep_input: bool, labels: list[str] | None):
        if fmt == "parquet" and sink is sys.stdout.buffer:
            raise BatchInputError("Parquet output must be a file (-o FILE), not stdout")
        self.sink = sink
        self.fmt = fmt
        self.keep_input = keep_input
        self.labels = labels
        self.schema: pa.Schema | None = None
        self.writer: Any = None

    def write(self, scored: Scored) -> None:
        batch = self._batch(scored)
        if self.fmt == "csv":
            self._write_csv(batch)
            return
        if self.writer is None:
            self.schema = _writable(batch.schema)
            self.writer = self._open(self.schema)
        assert self.schema is not None
        self.writer.write_batch(conform(batch, self.schema))

    def _write_csv(self, batch: pa.RecordBatch) -> None:
        """CSV, quoting a chunk's values only when one of them needs it, as a person would.

        pyarrow's own "needed" quotes every text value; CSV read as text would come back
        with every number in quotes.
        """
        first = self.schema is None
        if first:
            self.schema = _writable(batch.schema)
        assert self.schema is not None
        batch = conform(batch, self.schema)
        header = "needed" if any(_needs_quotes(name) for name in batch.schema.names) else "none"
        options = pa_csv.WriteOptions(
            include_header=first,
            quoting_style="needed" if _any_needs_quotes(batch) else "none",
            quoting_header=header,
        )
        pa_csv.write_csv(batch, self.sink, write_options=options)

    def close(self) -> None:
        if self.writer is None and self.fmt == "parquet":  # no rows: a file that says so
            schema = pa.schema([(PREDICTION, pa.string()), (ERROR, pa.string())])
            self.writer = self._open(schema)
        if self.writer is not None:
            self.writer.close()

    def _open(self, schema: pa.Schema) -> Any:
        return pq.ParquetWriter(self.sink, schema)

    def _batch(self, scored: Scored) -> pa.RecordBatch:
        size = scored.chunk.size
        names = prediction_names(len(scored.predictions), self.labels)
        outputs = {*names, ERROR}
        arrays: list[pa.Array] = []
        fields: list[str] = []
        if self.keep_input:
            table = scored.chunk.columns()
            for name, column in zip(table.schema.names, table.columns, strict=True):
                if name not in outputs:
                    fields.append(name)
                    arrays.append(column)
        fields.extend(names)
        arrays.extend(scored.predictions)
        fields.append(ERROR)
        if scored.errors:
            errors = [scored.errors.get(row) for row in range(size)]
            arrays.append(pa.array(errors, pa.string()))
        else:
            arrays.append(pa.nulls(size, pa.string()))
        return pa.RecordBatch.from_arrays(arrays, names=fields)


_QUOTED = r'[",\r\n]'


def _needs_quotes(text: str) -> bool:
    return any(character in text for character in '",\r\n')


def _any_needs_quotes(batch: pa.RecordBatch) -> bool:
    """Whether a text value of ``batch`` holds a comma, a quote or a line break."""
    return any(
        pc.any(pc.match_substring_regex(column, _QUOTED)).as_py()
        for column in batch.columns
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    )


def _writable(schema: pa.Schema) -> pa.Schema:
    """``schema`` for the output file: a column with no values yet (null) is text."""
    return pa.schema(
        [field.with_type(pa.string()) if field.type == pa.null() else field for field in schema]
    )


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with the columns and types of ``schema`` (the first chunk's).

    A column the batch lacks is empty, one it adds is dropped, as a header row would have it.
    """
    if batch.schema.equals(schema):
        return batch
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        column = batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, field.type)
        if column.type != field.type:
            column = _cast(column, field)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _cast(column: pa.Array, field: pa.Field) -> pa.Array:
    try:
        return pc.cast(column, field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if field.type != pa.string():
            raise BatchInputError(
                f"column {field.name!r} holds {column.type} values where the first rows held "
                f"{field.type}; write CSV or JSON instead, or make the column's type the same"
            ) from None
        return pa.array([as_text(value) for value in column.to_pylist()], pa.string())


class JsonWriter:
    """JSON lines (one compact object per line) or one JSON list of objects."""

    def __init__(self, sink: IO[bytes], lines: bool, keep_input: bool):
        self.sink = sink
        self.lines = lines
        self.keep_input = keep_input
        self.first = True

    def write(self, scored: Scored) -> None:
        rows = scored.chunk.rows() if self.keep_input else None
        columns = [column.to_pylist() for column in scored.predictions]
        parts = []
        for index in range(scored.chunk.size):
            row = rows[index] if rows is not None else None
            record: dict[str, Any] = dict(row) if isinstance(row, dict) else {}
            if index in scored.errors:
                record[PREDICTION] = None
                record[ERROR] = scored.errors[index]
            elif len(columns) == 1:
                record[PREDICTION] = columns[0][index]
            else:
                record[PREDICTION] = [column[index] for column in columns]
            parts.append(encode(record))
        if not parts:
            return
        if self.lines:
            self.sink.write(b"\n".join(parts) + b"\n")
        else:
            self.sink.write((b"[\n" if self.first else b",\n") + b",\n".join(parts))
            self.first = False

    def close(self) -> None:
        if not self.lines:
            self.sink.write(b"[]\n" if self.first else b"\n]\n")


def make_writer(
    sink: IO[bytes], fmt: str, keep_input: bool, labels: list[str] | None
) -> ColumnsWriter | JsonWriter:
    """The writer for ``fmt``."""
    if fmt in ("csv", "parquet"):
        return ColumnsWriter(sink, fmt, keep_input, labels)
    return JsonWriter(sink, fmt == "jsonl", keep_input)
