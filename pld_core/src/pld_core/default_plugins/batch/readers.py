"""Input files as chunks of rows, streamed: memory stays bounded however large the file.

CSV is read by pyarrow's streaming reader, every column as text: a bad value in row two
million then is one bad row, not a failed read, and the input columns are written back exactly
as they came (the predict service converts the mapped ones). A row with the wrong number of
fields is kept in its place as an error. Parquet is read a row group slice at a time; JSON
lines and JSON are decoded by pld's JSON decoder into records, as ``pld stream`` reads them.
"""

from __future__ import annotations

import contextlib
import csv
import sys
from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from pld_core import InputError, decode, error_text
from pld_core.default_plugins.batch.chunks import Chunk
from pld_core.default_plugins.batch.options import FORMATS, BatchInputError

#: Bytes of CSV parsed at a time: one chunk.
CSV_BLOCK = 1 << 20


def read_chunks(source: str, fmt: str, rows: int) -> Iterator[Chunk]:
    """The rows of ``source`` (``-``: stdin) in ``fmt``, a chunk at a time.

    :param rows: rows per chunk for Parquet and JSON (CSV chunks are blocks of bytes).
    """
    if fmt == "csv":
        yield from _csv_chunks(source)
    elif fmt == "parquet":
        yield from _parquet_chunks(source, rows)
    elif fmt == "jsonl":
        yield from _json_lines_chunks(source, rows)
    elif fmt == "json":
        yield from _json_chunks(source, rows)
    else:
        raise BatchInputError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


@contextlib.contextmanager
def open_input(path: str) -> Iterator[IO[bytes]]:
    """``path`` for reading bytes (``-`` is stdin)."""
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115 -- closed below
    except OSError as exc:
        raise BatchInputError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        yield handle


def _csv_chunks(source: str) -> Iterator[Chunk]:
    with open_input(source) as stream:
        header = stream.readline()
        if not header.strip():
            return
        names = next(csv.reader([header.decode("utf-8-sig")]))
        invalid: list[tuple[int | None, str]] = []

        def skip(row: Any) -> str:  # pyarrow calls it for a row with the wrong field count
            found = "field" if row.actual_columns == 1 else "fields"
            message = f"the row has {row.actual_columns} {found}; the header has {len(names)}"
            invalid.append((row.number, error_text(InputError(message))))
            return "skip"

        try:
            reader = pa_csv.open_csv(
                stream,
                read_options=pa_csv.ReadOptions(
                    column_names=names, block_size=CSV_BLOCK, use_threads=False
                ),
                parse_options=pa_csv.ParseOptions(invalid_row_handler=skip),
                convert_options=pa_csv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string())
                ),
            )
            number = 1
            for batch in reader:
                chunk = _with_invalid_rows(batch, number, invalid)
                number += chunk.size
                yield chunk
        except pa.ArrowInvalid as exc:
            raise BatchInputError(f"cannot read {source}: {exc}") from None
        if invalid:  # the file ended in rows that could not be parsed
            table = pa.RecordBatch.from_pydict({name: pa.nulls(0, pa.string()) for name in names})
            yield _with_invalid_rows(table, number, invalid, everything=True)


def _with_invalid_rows(
    batch: pa.RecordBatch,
    first: int,
    invalid: list[tuple[int | None, str]],
    everything: bool = False,
) -> Chunk:
    """``batch`` as a chunk, with the skipped rows that fall into it put back as errors.

    pyarrow numbers the rows it skips; the others fill the numbers in between.
    """
    if not invalid:
        return Chunk(first, table=batch)
    pending = sorted(invalid, key=lambda item: item[0] or 0)
    invalid.clear()
    indexes: list[int | None] = []
    errors: dict[int, str] = {}
    taken, number = 0, first
    while taken < batch.num_rows or (pending and (everything or (pending[0][0] or 0) <= number)):
        if pending and (everything or (pending[0][0] or 0) <= number):
            errors[len(indexes)] = pending.pop(0)[1]
            indexes.append(None)
        else:
            indexes.append(taken)
            taken += 1
        number += 1
    invalid.extend(pending)  # skipped rows of a later chunk
    return Chunk(first, table=batch.take(pa.array(indexes, pa.int64())), errors=errors)


def _parquet_chunks(source: str, rows: int) -> Iterator[Chunk]:
    if source == "-":
        raise BatchInputError("Parquet input must be a file, not stdin")
    try:
        parquet = pq.ParquetFile(source)
    except FileNotFoundError:
        raise BatchInputError(f"cannot read {source}: No such file or directory") from None
    except (OSError, pa.ArrowException) as exc:
        raise BatchInputError(f"cannot read {source}: {exc}") from None
    with parquet:
        number = 1
        try:
            for batch in parquet.iter_batches(batch_size=rows):
                yield Chunk(number, table=batch)
                number += batch.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise BatchInputError(f"cannot read {source}: {exc}") from None


def _json_lines_chunks(source: str, rows: int) -> Iterator[Chunk]:
    with open_input(source) as stream:
        chunk = Chunk(1, records=[])
        for line in stream:
            if not line.strip():
                continue
            records = chunk.records
            assert records is not None
            try:
                records.append(decode(line))
            except ValueError as exc:
                chunk.errors[len(records)] = f"BadRequest: the line is not valid JSON: {exc}"
                records.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if len(records) == rows:
                yield chunk
                chunk = Chunk(chunk.first + rows, records=[])
        if chunk.size:
            yield chunk


def _json_chunks(source: str, rows: int) -> Iterator[Chunk]:
    with open_input(source) as stream:
        try:
            records = decode(stream.read())
        except ValueError as exc:
            raise BatchInputError(f"the input is not valid JSON: {exc}") from None
    if not isinstance(records, list):
        raise BatchInputError("a JSON input must hold one list of objects")
    for start in range(0, len(records), rows):
        yield Chunk(start + 1, records=records[start : start + rows])
