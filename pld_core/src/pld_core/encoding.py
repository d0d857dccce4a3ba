"""The one JSON encoder of pld's answers: HTTP bodies, ``pld stream`` lines, ``pld predict`` files.

orjson writes compact UTF-8 JSON, NaN and infinity as ``null`` (never the invalid ``NaN``),
and numpy arrays natively; anything else with ``tolist``/``item`` (numpy scalars) is unwrapped,
and what is left is written as its ``str``.
"""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def _fallback(value: Any) -> Any:
    for unwrap in ("tolist", "item"):
        method = getattr(value, unwrap, None)
        if callable(method):
            return method()
    return str(value)


def encode(value: Any, *, indent: bool = False) -> bytes:
    """``value`` as JSON bytes; ``indent`` for people (two spaces), compact otherwise."""
    options = _OPTIONS | orjson.OPT_INDENT_2 if indent else _OPTIONS
    try:
        return orjson.dumps(value, default=_fallback, option=options)
    except TypeError:  # a dict with keys that are not text: slower, so only when needed
        return orjson.dumps(value, default=_fallback, option=options | orjson.OPT_NON_STR_KEYS)


def encode_text(value: Any, *, indent: bool = False) -> str:
    """:func:`encode` as text, for lines written to a terminal or a text file."""
    return encode(value, indent=indent).decode()


def decode(data: bytes | str) -> Any:
    """Parse JSON; raises :class:`ValueError` (``orjson.JSONDecodeError``) on bad input."""
    return orjson.loads(data)


def as_list(predictions: Any) -> list[Any]:
    """A model's predictions as a plain list (numpy arrays, pandas series, tuples...)."""
    tolist = getattr(predictions, "tolist", None)
    return list(tolist() if callable(tolist) else predictions)
