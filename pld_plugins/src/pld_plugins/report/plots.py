"""The report's figures, drawn with matplotlib's Agg backend and returned as PNG bytes.

Agg draws without a display or a network; each function makes one figure and closes it, so a
long-lived server that renders reports keeps no figures around.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

DPI = 80
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


@contextmanager
def _figure(width: float = 5.0, height: float = 4.0) -> Iterator[tuple[Any, Any]]:
    figure, axes = plt.subplots(figsize=(width, height), dpi=DPI)
    try:
        yield figure, axes
    finally:
        plt.close(figure)


def _png(figure: Any) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def confusion_matrix(matrix: Any, labels: Sequence[str]) -> bytes:
    """Counts of true (rows) against predicted (columns) classes, each cell written in."""
    size = max(4.0, 1.0 + 0.6 * len(labels))
    with _figure(size + 1, size) as (figure, axes):
        image = axes.imshow(matrix, cmap="Blues")
        figure.colorbar(image, ax=axes, fraction=0.046)
        ticks = range(len(labels))
        axes.set_xticks(ticks, labels, rotation=45, ha="right")
        axes.set_yticks(ticks, labels)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        limit = matrix.max() / 2 if matrix.size else 0
        for (row, column), count in np.ndenumerate(matrix):
            color = "white" if count > limit else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=color)
        axes.set_title("Confusion matrix")
        return _png(figure)


def curves(
    lines: Sequence[tuple[str, Any, Any]], *, title: str, xlabel: str, ylabel: str, diagonal: bool
) -> bytes:
    """ROC or precision-recall curves: one ``(label, x, y)`` line per class."""
    with _figure() as (figure, axes):
        for index, (label, x, y) in enumerate(lines):
            axes.plot(x, y, color=COLORS[index % len(COLORS)], label=label)
        if diagonal:
            axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        axes.set_xlim(-0.02, 1.02)
        axes.set_ylim(-0.02, 1.02)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.set_title(title)
        axes.legend(loc="lower right" if diagonal else "lower left", fontsize="small")
        return _png(figure)


def predicted_vs_actual(actual: Any, predicted: Any) -> bytes:
    """Each test sample at (actual, predicted), with the line where they are equal."""
    with _figure() as (figure, axes):
        axes.scatter(actual, predicted, s=12, alpha=0.6)
        low = float(min(np.min(actual), np.min(predicted)))
        high = float(max(np.max(actual), np.max(predicted)))
        axes.plot([low, high], [low, high], color="grey", linestyle=":")
        axes.set_xlabel("actual")
        axes.set_ylabel("predicted")
        axes.set_title("Predicted vs actual")
        return _png(figure)


def residuals(predicted: Any, residual: Any) -> bytes:
    """Residuals (actual − predicted) against the prediction, and their histogram."""
    with _figure(8, 3.6) as (figure, axes):
        figure.clf()
        left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
        left.scatter(predicted, residual, s=12, alpha=0.6)
        left.axhline(0, color="grey", linestyle=":")
        left.set_xlabel("predicted")
        left.set_ylabel("actual − predicted")
        left.set_title("Residuals")
        right.hist(residual, bins=30, orientation="horizontal", color=COLORS[1])
        right.axhline(0, color="grey", linestyle=":")
        right.set_xlabel("samples")
        return _png(figure)


def versions(table: Sequence[tuple[Any, dict[str, float]]], marked: Any) -> bytes:
    """Each score of every stored version (a line per score), the ``marked`` one circled."""
    names = list(dict.fromkeys(name for _, scores in table for name in scores))
    with _figure(max(5.0, min(12.0, 0.15 * len(table) + 4)), 3.6) as (figure, axes):
        positions = range(len(table))
        for index, name in enumerate(names):
            values = [scores.get(name, np.nan) for _, scores in table]
            axes.plot(
                positions,
                values,
                marker="o",
                markersize=4,
                label=name,
                color=COLORS[index % len(COLORS)],
            )
        for position, (version, scores) in enumerate(table):
            if version == marked:
                for name in names:
                    if name in scores:
                        axes.plot(
                            position,
                            scores[name],
                            marker="o",
                            markersize=11,
                            markerfacecolor="none",
                            color="black",
                        )
        step = max(1, len(table) // 20)
        axes.set_xticks(list(positions)[::step], [str(v) for v, _ in table][::step])
        axes.set_xlabel("version")
        axes.set_ylabel("score")
        axes.set_title("Scores of the stored versions")
        if names:
            axes.legend(fontsize="small")
        return _png(figure)


def score_by_parameter(
    name: str, values: Sequence[Any], scores: Sequence[float], errors: Sequence[float], metric: str
) -> bytes:
    """Mean cross-validation score of every candidate against one searched parameter.

    Numbers go on a numeric axis (logarithmic when they span more than two decades); other
    values are categories. The line joins the best score reached at each value.
    """
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    with _figure() as (figure, axes):
        if numeric:
            x = [float(v) for v in values]
        else:
            categories = list(dict.fromkeys(str(v) for v in values))
            x = [float(categories.index(str(v))) for v in values]
            axes.set_xticks(range(len(categories)), categories, rotation=30, ha="right")
        axes.errorbar(x, scores, yerr=errors, fmt="o", alpha=0.6, capsize=3, label="candidates")
        best: dict[float, float] = {}
        for position, score in zip(x, scores, strict=True):
            if score == score:  # NaN: a failed fit
                best[position] = max(best.get(position, score), score)
        points = sorted(best.items())
        axes.plot([p for p, _ in points], [s for _, s in points], color=COLORS[1], label="best")
        positive = [v for v in x if v > 0]
        if numeric and len(positive) == len(x) and max(x) / min(x) > 100:
            axes.set_xscale("log")
        axes.set_xlabel(name)
        axes.set_ylabel(f"mean test {metric}")
        axes.set_title(f"{metric} against {name}")
        axes.legend(fontsize="small")
        return _png(figure)
