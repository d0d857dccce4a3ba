"""HTML reports with plots: ``pld test --report``, ``pld fit --evaluate --report``,
``pld grid-search --report``, and ``/report`` linked from the service page.

A report is one self-contained HTML file (images inlined as PNG) with the scores on the test
data, a confusion matrix and ROC/precision-recall curves for a classifier, predicted-vs-actual
and residual plots for a regressor, and every stored version's scores as a table and a chart.
matplotlib (``pip install 'pld-plugins[report]'``) draws them with its Agg backend; it is
imported when a report is made, never when pld starts.

pld-core's ``fit`` and ``test`` tasks reach the report through the component registered here as
``html-report`` (:class:`HtmlReport`), so pld-core itself never imports the data stack.
``/report`` renders the active version's report on the first visit and keeps it per version: it
is made in the request that asks for it, never on the predict path. It follows the service
page: off with ``'service_page': False``, guarded by ``page_decorators``.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pld_core import App, Config, error_response, hookimpl, load_data

#: The name pld-core's tasks look the report up by.
COMPONENT = "html-report"
PATH = "/report"
#: Reports kept per app by ``/report`` (one per version asked for, the oldest dropped first).
CACHED_VERSIONS = 8
_STATE = "pld_plugins.report"
_lock = threading.Lock()


class HtmlReport:
    """Writes reports: ``model(...)`` for a model on test data, ``search(...)`` for a search."""

    def model(
        self,
        path: str | Path,
        *,
        config: Config,
        model: Any,
        X: Any,
        y: Any,
        stored: Sequence[dict[str, Any]] | None = None,
    ) -> Path:
        """Write the report of ``model`` on ``X, y`` to ``path``; stored versions are listed."""
        from pld_plugins.report.document import model_report

        if stored is None:
            stored = _stored(config)
        return _write(path, model_report(config, model, X, y, stored))

    def search(self, path: str | Path, *, frame: Any, metric: str, title: str) -> Path:
        """Write the report of a grid search's results (best first) to ``path``."""
        from pld_plugins.report.document import search_report

        return _write(path, search_report(frame, metric, title))


def _write(path: str | Path, text: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def _stored(config: Config) -> list[dict[str, Any]]:
    persister = config.get("model_persister")
    if persister is None:
        return []
    return list(persister.list_models())


def report_view(request: Any, app: App) -> Any:
    """The active version's report, made on the first request for that version."""
    from werkzeug.wrappers import Response

    model = app.models.current() if app.models.persister is not None else None
    if model is None:
        return error_response(503, app.models.problem() or "no model is loaded")
    if "dataset_loader_test" not in app.config:
        return error_response(404, "no report: the config has no dataset_loader_test")
    version = (getattr(model, "__metadata__", None) or {}).get("version")
    cache: dict[Any, str] = app.state.setdefault(_STATE, {})
    with _lock:  # one report at a time: two visitors do not plot the same thing twice
        text = cache.get(version)
        if text is None:
            from pld_plugins.report.document import model_report

            X, y = load_data(app.config, "dataset_loader_test")
            text = model_report(app.config, model, X, y, _stored(app.config))
            cache[version] = text
            while len(cache) > CACHED_VERSIONS:
                cache.pop(next(iter(cache)))
    return Response(text, mimetype="text/html")


_DOC = {
    "get": {
        "summary": "The active version's report (scores and plots on the test data), as HTML",
        "responses": {
            "200": {
                "description": "The HTML report.",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            "404": {"description": "The config has no dataset_loader_test."},
        },
    }
}


def _page_on(config: Any) -> bool:
    value = config.get("service_page", True)
    return value is not False and value is not None


def plotting_installed() -> bool:
    """Whether matplotlib can be imported (looked up, not imported: pld starts fast)."""
    return importlib.util.find_spec("matplotlib") is not None


@hookimpl
def pld_register_components(register: Callable[..., None]) -> None:
    # Without matplotlib no writer is offered, so --report fails before a long fit, not after.
    if plotting_installed():
        register(COMPONENT, HtmlReport)


@hookimpl
def pld_register_routes(register: Callable[..., None], app: Any) -> None:
    if plotting_installed() and (app is None or _page_on(app.config)):
        register(PATH, report_view, decorators="page_decorators", openapi=_DOC)
