"""Is a compiled form's answer the Python model's? Labels equal, numbers within ``rtol``.

Runtime-agnostic: each method's answers from both, compared the way they are served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy


@dataclass(frozen=True)
class Verdict:
    """How one method's answers compare.

    :ivar problem: why they are not the same (``None``: they are).
    :ivar max_rel_diff: the largest relative difference of the numbers (0 for labels).
    """

    problem: str | None
    max_rel_diff: float = 0.0


def compare(method: str, expected: Any, got: Any, rtol: float, exact: bool) -> Verdict:
    """Compare the compiled form's ``got`` with the Python model's ``expected`` for ``method``.

    ``exact``: labels, which must be equal values of the same type; otherwise numbers, each
    within ``rtol`` of the other relative to the larger of the two (NaN matches NaN).
    """
    expected, got = numpy.asarray(expected), numpy.asarray(got)
    if expected.shape != got.shape:
        return Verdict(f"{method} answers with shape {got.shape}, not {expected.shape}")
    if exact:
        return _compare_labels(method, expected, got)
    if expected.dtype.kind not in "fiub" or got.dtype.kind not in "fiub":
        return Verdict(f"{method} answers {got.dtype} where the model answers {expected.dtype}")
    worst = max_relative_difference(expected, got)
    if worst > rtol:
        return Verdict(
            f"{method} differs from the Python model's by up to {worst:.3g} relative "
            f"(rtol {rtol:g})",
            worst,
        )
    return Verdict(None, worst)


def _compare_labels(method: str, expected: Any, got: Any) -> Verdict:
    wanted, answered = expected.tolist(), got.tolist()
    if expected.dtype == got.dtype and wanted == answered:
        return Verdict(None)
    differ = sum(a != b or type(a) is not type(b) for a, b in zip(wanted, answered, strict=True))
    return Verdict(
        f"{method} gives other labels than the Python model on {differ} of {len(wanted)} rows"
    )


def max_relative_difference(expected: Any, got: Any) -> float:
    """The largest ``|a - b| / max(|a|, |b|)``; 0 where both are equal (or both NaN), inf
    where only one is NaN."""
    a = numpy.asarray(expected, dtype=numpy.float64)
    b = numpy.asarray(got, dtype=numpy.float64)
    if a.size == 0:
        return 0.0
    with numpy.errstate(all="ignore"):
        relative = numpy.abs(a - b) / numpy.maximum(numpy.abs(a), numpy.abs(b))
        same = (a == b) | (numpy.isnan(a) & numpy.isnan(b))
        relative = numpy.where(same, 0.0, numpy.nan_to_num(relative, nan=numpy.inf))
    return float(relative.max())


def verification_rows(X: Any, n: int) -> tuple[Any, Any]:
    """At most ``n`` rows of ``X`` spread evenly over it: as the model takes them, and as a
    float64 array. Rows with NaN or inf are left out: the Python model answers those.

    :raises ValueError: ``X`` is no table of numbers, or has no row of finite numbers.
    """
    try:
        features = numpy.asarray(X, dtype=numpy.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"its input is not a table of numbers ({type(exc).__name__})") from None
    if features.ndim != 2:
        raise ValueError("its input is not a table of numbers (one row per sample)")
    rows = numpy.flatnonzero(numpy.isfinite(features).all(axis=1))
    if not len(rows):
        raise ValueError("there is no row of finite numbers to verify it on")
    if len(rows) > n:  # spread: data sets are often sorted by class
        rows = rows[numpy.linspace(0, len(rows) - 1, n).round().astype(int)]
    return _take(X, rows), numpy.ascontiguousarray(features[rows])


def _take(X: Any, rows: Any) -> Any:
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    if isinstance(X, numpy.ndarray):
        return X[rows]
    return [X[int(i)] for i in rows]
