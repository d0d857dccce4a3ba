"""One input file to one output file: read a chunk, predict it, write it, repeat.

The same function scores a whole file for ``pld predict`` and one partition of a directory on a
dask worker, so both give the same output for the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pld_core import PredictPath
from pld_core.default_plugins.batch.chunks import ChunkScorer, Scored
from pld_core.default_plugins.batch.options import (
    BATCH_SIZE,
    FORMATS,
    SHOWN_ROW_ERRORS,
    BatchInputError,
    format_of,
)
from pld_core.default_plugins.batch.readers import read_chunks
from pld_core.default_plugins.batch.writers import make_writer, open_output


@dataclass
class BatchReport:
    """What a run did: rows read, predicted and failed, and the first bad rows by number."""

    rows: int = 0
    predicted: int = 0
    failed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def add(self, scored: Scored, where: str = "") -> None:
        self.rows += scored.chunk.size
        self.failed += len(scored.errors)
        self.predicted += scored.chunk.size - len(scored.errors)
        for index in sorted(scored.errors)[: SHOWN_ROW_ERRORS - len(self.errors)]:
            self.errors.append((f"{where}row {scored.chunk.first + index}", scored.errors[index]))

    def merge(self, other: BatchReport) -> None:
        self.rows += other.rows
        self.predicted += other.predicted
        self.failed += other.failed
        self.errors.extend(other.errors[: SHOWN_ROW_ERRORS - len(self.errors)])


def output_format_of(target: str, input_format: str, given: str | None) -> str:
    """The output format: ``given``, else from ``target``'s extension, else the input's."""
    fmt = given or (format_of(target, None) if target != "-" else input_format)
    if fmt not in FORMATS:
        raise BatchInputError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    return fmt


def run_batch(
    path: PredictPath,
    source: str,
    target: str,
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    batch_size: int = BATCH_SIZE,
    keep_input: bool = True,
    where: str = "",
) -> BatchReport:
    """Predict every row of ``source`` on ``path`` and write the results to ``target``.

    :param where: put before each bad row's number in the report (a partition's name).
    """
    in_fmt = format_of(source, input_format) if source != "-" or input_format else "jsonl"
    out_fmt = output_format_of(target, in_fmt, output_format)
    labels = class_labels(path.model())
    scorer = ChunkScorer(path, batch_size)
    report = BatchReport()
    with open_output(target) as sink:
        writer = make_writer(sink, out_fmt, keep_input, labels)
        for chunk in read_chunks(source, in_fmt, batch_size):
            scored = scorer.score(chunk)
            report.add(scored, where)
            writer.write(scored)
        writer.close()
    return report


def class_labels(model: Any) -> list[str] | None:
    """The model's classes as text (names of the probability columns), if it has them."""
    classes = getattr(model, "classes_", None)
    return None if classes is None else [str(label) for label in list(classes)]
