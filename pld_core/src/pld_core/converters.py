"""The one set of value converters: text or JSON values to ``bool``, ``int``, ``float``, ``str``,
and model versions.

Task options (command line, query string, form, JSON body) and predict services' fields
(query string, JSON samples) both convert here. Each raises :class:`ValueError` on a value it
cannot take; the caller names the field. The keywords loosen a converter where the caller's
input calls for it: a JSON sample may carry ``3.0`` for an integer field or a number for a
text field.

Integers in text are ASCII digits only: Python's ``int()`` also takes ``'١'`` (an
Arabic-Indic one) and ``'1_0'`` (ten), which no client means as a number.
"""

from __future__ import annotations

import math
import operator
import re
from typing import Any

import click

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


_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
_MAX_DIGITS = 4000  # below Python's limit for int() of text, which raises a different error


def to_int(raw: Any, *, whole_floats: bool = False) -> int:
    """An integer or its text in ASCII digits (with a sign and spaces around); with
    ``whole_floats``, also a float without a fraction (3.0)."""
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not an integer")
    if isinstance(raw, float):
        if not (whole_floats and raw.is_integer()):
            raise ValueError(f"{raw!r} is not an integer")
        return int(raw)
    if isinstance(raw, str | bytes):
        text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
        text = text.strip(" \t\r\n")
        if len(text) > _MAX_DIGITS or not _ASCII_INTEGER.fullmatch(text):
            raise ValueError(f"{_shown(raw)} is not an integer")
        return int(text)
    return int(raw)


#: The highest model version: the SQL ``INTEGER`` column of Palladium's schema stops here.
MAX_VERSION = 2**31 - 1


def to_version(raw: Any) -> int:
    """A model version: a whole number from 1 to :data:`MAX_VERSION`, or its ASCII digits.

    Every endpoint and command that takes a version parses it here, so a version that
    reaches a store is in range and was meant as one (no signs, spaces, ``_`` or non-ASCII
    digits); anything else is a :class:`ValueError` naming the value.
    """
    expected = f"an integer from 1 to {MAX_VERSION} (a model version)"
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not {expected}")
    if isinstance(raw, str):
        if not (raw.isascii() and raw.isdigit()) or len(raw.lstrip("0")) > len(str(MAX_VERSION)):
            raise ValueError(f"{_shown(raw)} is not {expected}")
        value = int(raw)
    else:
        try:
            value = operator.index(raw)  # int, numpy integers; not floats
        except TypeError:
            raise ValueError(f"{_shown(raw)} is not {expected}") from None
    if not 1 <= value <= MAX_VERSION:
        raise ValueError(f"{_shown(raw)} is not {expected}")
    return value


class VersionParamType(click.ParamType[int]):
    """A command-line model version, parsed by :func:`to_version` (a usage error: exit 2)."""

    name = "version"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return to_version(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


#: The ``type`` of every click argument or option that takes a model version.
VERSION = VersionParamType()


def _shown(raw: Any, limit: int = 40) -> str:
    """``repr(raw)``, shortened: error messages name the value without echoing a megabyte."""
    text = repr(raw)
    return text if len(text) <= limit else text[: limit - 5] + "...'"


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
