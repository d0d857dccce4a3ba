"""A model's answer as an Arrow array, built over numpy's own buffers where it can be.

``pyarrow.array`` imports pandas (about half a second) the first time it is called, to see
whether it was given a pandas object, even for a numpy array. A ``pld predict`` whose model
answers with numpy numbers or text then needs no pandas at all: numbers are wrapped without
a copy, text is encoded into one UTF-8 buffer. Anything else goes through ``pyarrow.array``.
"""

from __future__ import annotations

from array import array as offsets_array
from itertools import accumulate
from typing import Any

import pyarrow as pa

from pld_core import encode_text

_NUMBERS = "iuf"
_TEXT = "OU"


def to_arrow(values: Any) -> pa.Array:
    """``values`` (a 1-D numpy array, a list...) as an Arrow array; text where types mix."""
    built = _from_ndarray(values)
    if built is not None:
        return built
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: as text, like the JSON output
        return pa.array([as_text(value) for value in values], pa.string())


def as_text(value: Any) -> str | None:
    """A value as text in the output: JSON for what is not text already; ``None`` stays."""
    if value is None or isinstance(value, str):
        return value
    return encode_text(value)


def _from_ndarray(values: Any) -> pa.Array | None:
    """A 1-D numpy array of numbers or of ``str`` over its buffers; ``None`` for anything else."""
    dtype = getattr(values, "dtype", None)
    if dtype is None or getattr(values, "ndim", None) != 1 or not dtype.isnative:
        return None
    if dtype.kind in _NUMBERS:
        try:
            kind = pa.from_numpy_dtype(dtype)
        except (pa.ArrowNotImplementedError, TypeError):
            return None
        if not values.flags.c_contiguous:  # a column of a 2-D answer
            values = values.copy()
        return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])
    if dtype.kind in _TEXT:
        texts = values.tolist()
        if not all(type(text) is str for text in texts):
            return None
        try:
            encoded = [text.encode() for text in texts]
            offsets = offsets_array("i", accumulate(map(len, encoded), initial=0))
        except (UnicodeEncodeError, OverflowError):  # lone surrogates; over 2 GiB of text
            return None
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
        return pa.Array.from_buffers(pa.string(), len(texts), buffers)
    return None
