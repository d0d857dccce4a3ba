"""The search results as a table: best first, the columns that matter first.

One ordering serves the terminal, the CSV file and the model's metadata, so the three always
agree on which candidate was best. The terminal leaves out the per-split columns; the CSV
keeps every column scikit-learn reported.
"""

from __future__ import annotations

import re
from typing import Any

from pld_core import jsonable

_SPLIT = re.compile(r"^split\d+_")
_TIMES = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")


def primary_metric(cv_results: dict[str, Any], refit: Any = None) -> str:
    """The metric the ranking follows: ``score``, or the refit / first one of several."""
    names = [key[len("rank_test_") :] for key in cv_results if key.startswith("rank_test_")]
    if isinstance(refit, str) and refit in names:
        return refit
    if "score" in names or not names:
        return "score"
    return names[0]


def results_frame(cv_results: dict[str, Any], refit: Any = None) -> Any:
    """``cv_results_`` as a DataFrame sorted by rank (best first), columns reordered."""
    import pandas

    frame = pandas.DataFrame(cv_results)
    metric = primary_metric(cv_results, refit)
    rank = f"rank_test_{metric}"
    if rank in frame.columns:
        frame = frame.sort_values(rank, kind="stable")
    frame = frame.reset_index(drop=True)
    return frame[_ordered_columns(list(frame.columns), metric)]


def _ordered_columns(columns: list[str], metric: str) -> list[str]:
    first = [f"rank_test_{metric}", f"mean_test_{metric}", f"std_test_{metric}"]
    others = [
        name
        for prefix in ("rank_test_", "mean_test_", "std_test_", "mean_train_", "std_train_")
        for name in columns
        if name.startswith(prefix) and name not in first
    ]
    params = ["params"] + sorted(name for name in columns if name.startswith("param_"))
    ordered = [name for name in [*first, *others, *params, *_TIMES] if name in columns]
    splits = [name for name in columns if _SPLIT.match(name)]
    rest = [name for name in columns if name not in ordered and name not in splits]
    return ordered + rest + splits


def terminal_columns(frame: Any) -> list[str]:
    """The columns printed to the terminal: everything but the per-split scores."""
    return [name for name in frame.columns if not _SPLIT.match(str(name))]


def format_table(frame: Any) -> str:
    """A plain-text table, one line per candidate, best first."""
    shown = frame[terminal_columns(frame)].copy()
    for name in shown.columns:
        if str(name).endswith("_time"):
            shown[name] = shown[name].map(lambda v: f"{v:.4f}")
        elif str(name).startswith(("mean_", "std_")):
            shown[name] = shown[name].map(lambda v: f"{v:.6f}")
    return str(shown.to_string(index=False))


def write_csv(frame: Any, path: str) -> None:
    """Every row and column, best first."""
    frame.to_csv(path, index=False)


def result_records(frame: Any, metric: str = "score") -> list[dict[str, Any]]:
    """A JSON-safe summary for the model's metadata: one record per candidate, best first."""
    records = []
    for row in frame.to_dict(orient="records"):
        record = {
            "rank": jsonable(row.get(f"rank_test_{metric}")),
            "params": jsonable(row.get("params", {})),
            f"mean_test_{metric}": jsonable(row.get(f"mean_test_{metric}")),
            f"std_test_{metric}": jsonable(row.get(f"std_test_{metric}")),
        }
        for key in ("mean_fit_time", "mean_score_time"):
            if key in row:
                record[key] = jsonable(row[key])
        records.append(record)
    return records
