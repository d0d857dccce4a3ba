"""What ``pld predict`` reads and writes: formats, names of the output columns, its errors.

Kept free of pyarrow, so the command can be listed and described without importing it.
"""

from __future__ import annotations

import os

from pld_core import PldError

#: Input formats; every one of them is also an output format.
FORMATS = ("csv", "parquet", "jsonl", "json")
_EXTENSIONS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}
PREDICTION = "prediction"
ERROR = "error"

#: Rows predicted in one call to the model (``--batch-size``).
BATCH_SIZE = 10_000
#: Bad rows ``pld predict`` names on stderr; all of them are in its output.
SHOWN_ROW_ERRORS = 20


class BatchInputError(PldError):
    """The input as a whole cannot be read or written (not one bad row: those are reported)."""

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


def extension_of(fmt: str) -> str:
    """The file extension ``pld predict`` gives an output in ``fmt`` (``.csv``, ...)."""
    return f".{fmt}"
