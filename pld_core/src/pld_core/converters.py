"""The one set of value converters: text or JSON values to ``bool``, ``int``, ``float``, ``str``.

Task options (command line, query string, form, JSON body) and predict services' fields
(query string, JSON samples) both convert here. Each raises :class:`ValueError` on a value it
cannot take; the caller names the field. The keywords loosen a converter where the caller's
input calls for it: a JSON sample may carry ``3.0`` for an integer field or a number for a
text field.
"""

from __future__ import annotations

import math
from typing import Any

TRUE = frozenset({"1", "t", "true", "y", "yes", "on"})
FALSE = frozenset({"0", "f", "false", "n", "no", "off"})


def to_bool(raw: Any) -> bool:
    """``True``/``False``, or one of their spellings (``yes``, ``0``, ``off``...); not 1 or 0."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
    raise ValueError(f"{raw!r} is not a boolean")


def to_int(raw: Any, *, whole_floats: bool = False) -> int:
    """An integer or its text; with ``whole_floats``, also a float without a fraction (3.0)."""
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not an integer")
    if isinstance(raw, float):
        if not (whole_floats and raw.is_integer()):
            raise ValueError(f"{raw!r} is not an integer")
        return int(raw)
    return int(raw)


def to_float(raw: Any, *, finite: bool = True) -> float:
    """A number or its text; NaN and infinity only when ``finite`` is off."""
    if isinstance(raw, bool) or isinstance(raw, str) and not raw.isascii():
        raise ValueError(f"{raw!r} is not a number")  # float() reads any script's digits
    value = float(raw)
    if finite and not math.isfinite(value):
        raise ValueError(f"{raw!r} is not a finite number")
    return value


def to_str(raw: Any, *, numbers: bool = False) -> str:
    """Text; with ``numbers``, also a number, as its text."""
    if isinstance(raw, str):
        return raw
    if numbers and isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    raise ValueError(f"{raw!r} is not a string")
