"""Self-contained HTML reports: a model version on the test data, and a grid search.

Every image is a PNG inlined as base64, the style is inline: the file opens anywhere, offline,
and can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from pld_core import Config, __version__, scorers
from pld_plugins.report import plots

#: Classes beyond this many get no ROC/PR curve each (the legend would be unreadable).
MAX_CURVES = 12


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value == value else "NaN"
    return "" if value is None else str(value)


def image(png: bytes, alt: str) -> str:
    """An ``<img>`` holding ``png`` inline."""
    data = base64.b64encode(png).decode()
    return f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></figure>'


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], marked: int | None = None) -> str:
    """A plain HTML table; row ``marked`` highlighted."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        ("<tr class='marked'>" if i == marked else "<tr>")
        + "".join(f"<td>{_e(_fmt(v))}</td>" for v in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def document(title: str, sections: Sequence[tuple[str, str]], subtitle: str = "") -> str:
    """The whole report: a title and ``(heading, html)`` sections."""
    made = datetime.now(UTC).isoformat(timespec="seconds")
    parts = "".join(f"<section><h2>{_e(h)}</h2>{body}</section>" for h, body in sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>{_e(subtitle)}</p>"
        f"<p class='made'>made {made} by pld {_e(__version__)}</p></header>"
        f"<main>{parts}</main></body></html>"
    )


# -- a model version ---------------------------------------------------------------------------


def _is_classifier(model: Any, y: Any) -> bool:
    kind = getattr(model, "_estimator_type", None)
    if kind is not None:
        return bool(kind == "classifier")
    if hasattr(model, "classes_"):
        return True
    return np.asarray(y).dtype.kind not in "fc"


def _score_rows(meta: dict[str, Any]) -> dict[str, float]:
    found: dict[str, float] = {}
    for split in ("test", "train"):
        scores = meta.get(f"scores_{split}")
        if isinstance(scores, dict) and scores:
            found.update({f"{split} {k}": v for k, v in scores.items() if isinstance(v, float)})
        elif isinstance(meta.get(f"score_{split}"), int | float):
            found[f"{split} score"] = float(meta[f"score_{split}"])
    return found


def versions_section(stored: Sequence[dict[str, Any]], marked: Any) -> str:
    """Every stored version's scores as a table and a chart."""
    rows = [(m.get("version"), _score_rows(m)) for m in stored]
    names = list(dict.fromkeys(n for _, scores in rows for n in scores))
    cells = [
        [v, stored[i].get("train_timestamp", ""), *(s.get(n) for n in names)]
        for i, (v, s) in enumerate(rows)
    ]
    index = next((i for i, (v, _) in enumerate(rows) if v == marked), None)
    body = table(["version", "trained", *names], cells, index)
    if names:
        body += image(plots.versions(rows, marked), "scores of the stored versions")
    return body


def classifier_sections(model: Any, X: Any, y: Any) -> list[tuple[str, str]]:
    """Confusion matrix, then ROC and precision-recall curves when the model gives scores."""
    from sklearn import metrics

    y_true = np.asarray(y)
    predicted = np.asarray(model.predict(X))
    known = getattr(model, "classes_", None)
    if known is None:
        known = np.unique(np.concatenate([y_true, predicted]))
    classes = list(known)
    labels = [str(c) for c in classes]
    matrix = metrics.confusion_matrix(y_true, predicted, labels=classes)
    sections = [("Confusion matrix", image(plots.confusion_matrix(matrix, labels), "confusion"))]
    report = metrics.classification_report(
        y_true, predicted, labels=classes, target_names=labels, output_dict=True, zero_division=0
    )
    rows = [
        [name, r["precision"], r["recall"], r["f1-score"], int(r["support"])]
        for name, r in report.items()
        if isinstance(r, dict)
    ]
    sections[0] = (
        sections[0][0],
        sections[0][1] + table(["class", "precision", "recall", "f1", "support"], rows),
    )
    proba = _scores(model, X)
    if proba is None or len(classes) > MAX_CURVES:
        return sections
    if proba.ndim == 1 or proba.shape[1] == 1:  # one score column: the positive class
        proba = np.column_stack([-proba.ravel(), proba.ravel()])
    shown = classes[1:] if len(classes) == 2 else classes
    roc, pr = [], []
    for klass in shown:
        column = classes.index(klass)
        truth = y_true == klass
        if truth.all() or not truth.any():
            continue  # a class absent from the test data has no curve
        fpr, tpr, _ = metrics.roc_curve(truth, proba[:, column])
        roc.append((f"{klass} (AUC {metrics.auc(fpr, tpr):.3f})", fpr, tpr))
        precision, recall, _ = metrics.precision_recall_curve(truth, proba[:, column])
        ap = metrics.average_precision_score(truth, proba[:, column])
        pr.append((f"{klass} (AP {ap:.3f})", recall, precision))
    if roc:
        one = "" if len(classes) == 2 else " (each class against the rest)"
        roc_png = plots.curves(
            roc,
            title="ROC" + one,
            xlabel="false positive rate",
            ylabel="true positive rate",
            diagonal=True,
        )
        pr_png = plots.curves(
            pr,
            title="Precision-recall" + one,
            xlabel="recall",
            ylabel="precision",
            diagonal=False,
        )
        sections.append(("ROC and precision-recall", image(roc_png, "ROC") + image(pr_png, "PR")))
    return sections


def _scores(model: Any, X: Any) -> Any:
    for method in ("predict_proba", "decision_function"):
        function = getattr(model, method, None)
        if callable(function):
            try:
                return np.asarray(function(X), dtype=float)
            except Exception:  # e.g. probability=False on an SVC: fall through
                continue
    return None


def regressor_sections(model: Any, X: Any, y: Any) -> list[tuple[str, str]]:
    """Predicted against actual, and the residuals."""
    actual = np.asarray(y, dtype=float)
    predicted = np.asarray(model.predict(X), dtype=float).ravel()
    residual = actual - predicted
    summary = table(
        ["samples", "mean residual", "residual std", "max |residual|"],
        [
            [
                len(actual),
                float(residual.mean()),
                float(residual.std()),
                float(np.abs(residual).max()),
            ]
        ],
    )
    return [
        ("Predicted vs actual", image(plots.predicted_vs_actual(actual, predicted), "pva")),
        ("Residuals", summary + image(plots.residuals(predicted, residual), "residuals")),
    ]


def model_report(
    config: Config, model: Any, X: Any, y: Any, stored: Sequence[dict[str, Any]] = ()
) -> str:
    """The report of one model on test data ``X, y``, with every stored version's scores."""
    meta = dict(getattr(model, "__metadata__", None) or {})
    version = meta.get("version")
    service = (config.get("service_metadata") or {}).get("service_name") or "pld"
    scores = {name: float(scorer(model, X, y)) for name, scorer in scorers(config, model).items()}
    about = [
        ["version", version],
        ["model", meta.get("model_class") or type(model).__name__],
        ["trained", meta.get("train_timestamp", "")],
        ["test samples", len(y)],
    ]
    sections = [
        ("Scores on the test data", table(["score", "value"], list(scores.items()))),
        ("Model", table(["", ""], about)),
    ]
    if _is_classifier(model, y):
        sections += classifier_sections(model, X, y)
    else:
        sections += regressor_sections(model, X, y)
    if stored:
        sections.append((f"All stored versions ({len(stored)})", versions_section(stored, version)))
    what = f"version {version}" if version is not None else "model (not stored)"
    return document(f"{service}: {what}", sections, "Scored on dataset_loader_test.")


# -- a grid search -----------------------------------------------------------------------------


def search_report(frame: Any, metric: str, title: str = "Grid search") -> str:
    """The search's results, best first, and the score against each searched parameter."""
    score, spread = f"mean_test_{metric}", f"std_test_{metric}"
    if score not in frame.columns:  # a single scorer: sklearn's plain names
        score, spread = "mean_test_score", "std_test_score"
    params = [c for c in frame.columns if c.startswith("param_")]
    shown = [c for c in (f"rank_test_{metric}", "rank_test_score") if c in frame.columns][:1]
    shown += [score, spread, *params, "mean_fit_time"]
    shown = [c for c in dict.fromkeys(shown) if c in frame.columns]
    rows = [[_plain(v) for v in row] for row in frame[shown].itertuples(index=False)]
    header = [c.removeprefix("param_") for c in shown]
    sections = [(f"Results ({len(frame)} candidates, best first)", table(header, rows, 0))]
    scores = [float(v) for v in frame[score]]
    errors = [float(v) for v in frame[spread]] if spread in frame.columns else [0.0] * len(frame)
    for column in params:
        values = [_plain(v) for v in frame[column]]
        if len({str(v) for v in values}) < 2:
            continue  # one value: nothing to plot against
        name = column.removeprefix("param_")
        png = plots.score_by_parameter(name, values, scores, errors, metric)
        sections.append((f"{metric} against {name}", image(png, name)))
    return document(title, sections, f"Ranked by mean cross-validated {metric}.")


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    masked = getattr(value, "mask", None)
    return "" if masked is True else str(value)


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#234;color:#fff;padding:.6em 1.5em}h1{margin:.2em 0}.made{opacity:.7}
main{padding:0 1.5em 2em}section{background:#fff;border:1px solid #ddd;border-radius:6px;
padding:.5em 1em;margin:1em 0}table{border-collapse:collapse;margin:.5em 0}
td,th{border-bottom:1px solid #eee;padding:.2em .6em;text-align:left}tr.marked{background:#e8f4e8}
figure{display:inline-block;margin:.5em 1em .5em 0}img{max-width:100%}
"""
