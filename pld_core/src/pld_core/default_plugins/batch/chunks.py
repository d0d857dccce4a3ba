"""Rows of the input a chunk at a time, and their predictions through the one predict path.

A chunk holds its rows as an Arrow record batch (CSV, Parquet: the predict service builds the
model input from whole columns) or as decoded records (JSON lines, JSON). It is predicted in
slices of at most ``batch_size`` rows; a slice that fails is halved until each bad row stands
alone, so a bad row costs only itself and gets the message the records way gives it — the one
``/predict`` gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pld_core import PredictPath, error_text
from pld_core.default_plugins.batch.arrays import as_text, to_arrow

#: A failing slice of at most this many rows is retried row by row rather than halved.
ROW_BY_ROW = 8


@dataclass
class Chunk:
    """Consecutive rows of the input.

    :param first: the 1-based number of the first row in the input.
    :param table: the rows as columns (CSV, Parquet), or ``None``.
    :param records: the rows as decoded objects (JSON), or ``None``.
    :param errors: row index → why that row could not even be read.
    """

    first: int
    table: pa.RecordBatch | None = None
    records: list[Any] | None = None
    errors: dict[int, str] = field(default_factory=dict)
    _rows: list[Any] | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return self.table.num_rows if self.table is not None else len(self.records or ())

    def rows(self) -> list[Any]:
        """The rows as records (objects), as the records way and the JSON outputs see them."""
        if self._rows is None:
            self._rows = self.table.to_pylist() if self.table is not None else self.records or []
        return self._rows

    def columns(self) -> pa.RecordBatch:
        """The rows as columns, as the CSV and Parquet outputs write them."""
        if self.table is not None:
            return self.table
        return records_table(self.records or [])

    def predict(self, path: PredictPath, start: int, stop: int) -> Any:
        """What the model answers for rows ``start`` to ``stop``, on ``path``."""
        if self.table is not None:
            return path.table_predictions(self.table.slice(start, stop - start))
        return path.predictions((self.records or [])[start:stop])


@dataclass
class Scored:
    """A chunk with its predictions: one column (or one per class), null where ``errors``."""

    chunk: Chunk
    predictions: list[pa.Array]
    errors: dict[int, str]


class ChunkScorer:
    """Predicts chunks on a predict path, ``batch_size`` rows per call, isolating bad rows."""

    def __init__(self, path: PredictPath, batch_size: int):
        self.path = path
        self.batch_size = batch_size

    def score(self, chunk: Chunk) -> Scored:
        errors = dict(chunk.errors)
        pieces: list[tuple[int, Any]] = []
        for begin, end in _runs_without(chunk.size, errors):
            for start in range(begin, end, self.batch_size):
                self._score(chunk, start, min(start + self.batch_size, end), pieces, errors)
        return Scored(chunk, prediction_columns(pieces, chunk.size), errors)

    def _score(
        self,
        chunk: Chunk,
        start: int,
        stop: int,
        pieces: list[tuple[int, Any]],
        errors: dict[int, str],
    ) -> None:
        try:
            values = chunk.predict(self.path, start, stop)
            if len(values) != stop - start:
                raise ValueError(
                    f"the model gave {len(values)} predictions for {stop - start} samples"
                )
        except Exception as exc:
            if stop - start == 1:
                errors[start] = error_text(exc)
            elif stop - start <= ROW_BY_ROW:
                for row in range(start, stop):
                    self._score(chunk, row, row + 1, pieces, errors)
            else:  # find the culprits by halves: a few bad rows cost a few calls each
                middle = (start + stop) // 2
                self._score(chunk, start, middle, pieces, errors)
                self._score(chunk, middle, stop, pieces, errors)
            return
        pieces.append((start, values))


def _runs_without(size: int, errors: dict[int, str]) -> list[tuple[int, int]]:
    """``(begin, end)`` runs of row indexes, skipping the rows in ``errors``."""
    runs, begin = [], 0
    for bad in sorted(errors):
        if bad > begin:
            runs.append((begin, bad))
        begin = bad + 1
    if begin < size:
        runs.append((begin, size))
    return runs


def as_columns(values: Any) -> list[pa.Array]:
    """A model's answer for some rows as Arrow columns: one, or one per class (probabilities)."""
    if hasattr(values, "to_numpy"):  # pandas
        values = values.to_numpy()
    ndim = getattr(values, "ndim", None)
    if ndim == 2:
        return [to_arrow(values[:, column]) for column in range(values.shape[1])]
    if ndim == 1:
        return [to_arrow(values)]
    values = list(values)
    if values and all(isinstance(value, list | tuple) for value in values):
        return [to_arrow(list(column)) for column in zip(*values, strict=True)]
    return [to_arrow(values)]


def prediction_columns(pieces: list[tuple[int, Any]], size: int) -> list[pa.Array]:
    """The prediction columns of ``size`` rows from ``(start, values)`` pieces, null elsewhere."""
    parts = [(start, as_columns(values)) for start, values in sorted(pieces, key=lambda p: p[0])]
    width = max((len(columns) for _, columns in parts), default=1)
    result = []
    for index in range(width):
        arrays = [(start, columns[index]) for start, columns in parts if index < len(columns)]
        result.append(_fill(arrays, size))
    return result


def _fill(arrays: list[tuple[int, pa.Array]], size: int) -> pa.Array:
    """One column of ``size`` rows from arrays placed at their starts, null in the gaps."""
    kinds = {array.type for _, array in arrays if array.type != pa.null()}
    if len(kinds) > 1:  # batches that came back typed differently (ints, then floats)
        kinds = {to_arrow([value for _, array in arrays for value in array.to_pylist()]).type}
    kind = kinds.pop() if kinds else pa.null()
    out: list[pa.Array] = []
    position = 0
    for start, array in arrays:
        if start > position:
            out.append(pa.nulls(start - position, kind))
        out.append(array if array.type == kind else array.cast(kind))
        position = start + len(array)
    if position < size:
        out.append(pa.nulls(size - position, kind))
    if not out:
        return pa.nulls(0, kind)
    return pa.concat_arrays(out) if len(out) > 1 else out[0]


def records_table(records: Sequence[Any]) -> pa.RecordBatch:
    """Decoded records (JSON objects) as columns; a column Arrow cannot type becomes text."""
    rows = [record if isinstance(record, dict) else {} for record in records]
    names = list(dict.fromkeys(name for row in rows for name in row))
    arrays = []
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            array = None
        if array is None or pa.types.is_nested(array.type):
            array = pa.array([as_text(value) for value in values], pa.string())
        arrays.append(array)
    if not names:
        return _empty(len(rows))
    return pa.RecordBatch.from_arrays(arrays, names=[str(name) for name in names])


def _empty(rows: int) -> pa.RecordBatch:
    """``rows`` rows without columns (records that were not objects)."""
    return pa.RecordBatch.from_pydict({"": pa.nulls(rows)}).drop_columns([""])
