"""``GET /``: a page to look at the service: versions, input schema, jobs, a predict form.

Server-rendered HTML from string templates with a little plain JavaScript, all served by pld
(no CDN, works offline). On by default; ``'service_page': False`` in the config switches it off
(e.g. in production); ``page_decorators`` wraps it like any endpoint's decorator list. The
predict form is made from the predict endpoint's own OpenAPI parameters, so it sends what the
service reads; the version's stored input schema adds the ranges and categories seen in training.
A plugin that serves a report at ``/report`` (pld-plugins' ``report``) is linked from the page.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from pld_core import (
    App,
    PredictService,
    __version__,
    encode_text,
    hookimpl,
    job_records,
    process_store,
)
from pld_core.default_plugins.tasks import app_jobs

PATH = "/"
#: The config entry that switches the page (and the report it links) off.
SWITCH = "service_page"
REPORT_PATH = "/report"
METRICS_PATH = "/metrics"


def enabled(config: Any) -> bool:
    """Whether the config leaves the page on (the default)."""
    value = config.get(SWITCH, True) if config is not None else True
    return value is not False and value is not None


def page(request: Request, app: App) -> Response:
    """The page, rendered from what the app holds now (the store is asked for its versions)."""
    return Response(render(app), mimetype="text/html")


def render(app: App) -> str:
    """The whole HTML document for ``app``."""
    meta = app.service_metadata
    name = str(meta.get("service_name") or "pld service")
    version = str(meta.get("service_version") or "")
    model = app.models.current() if app.models.persister is not None else None
    model_meta: dict[str, Any] = dict(getattr(model, "__metadata__", None) or {})
    sections = [
        _active(app, model_meta),
        _versions(app, model_meta.get("version")),
        _predict_forms(app, model_meta),
        _schema(model_meta),
        _jobs(app),
        _metrics(app),
    ]
    links = " · ".join(
        f'<a href="{_e(path)}">{_e(path)}</a>'
        for path in ("/alive", "/list", "/openapi.json", METRICS_PATH)
        if path in app.endpoints
    )
    return _DOCUMENT.format(
        title=_e(name),
        version=_e(version),
        pld=_e(__version__),
        links=links,
        body="\n".join(s for s in sections if s),
        style=_STYLE,
        script=_SCRIPT,
    )


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _active(app: App, meta: dict[str, Any]) -> str:
    if not meta:
        problem = app.models.problem() if app.models.persister is not None else None
        reason = problem or "no model is loaded"
        return (
            f'<section id="active"><h2>Active model</h2><p class="warn">{_e(reason)}</p></section>'
        )
    shown = {
        k: v
        for k, v in meta.items()
        if k not in ("input_schema", "scores_train", "scores_test", "params")
        and not k.startswith("attachments/")
        and not isinstance(v, dict | list)
    }
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_number(v))}</td></tr>" for k, v in shown.items())
    params = meta.get("params")
    if isinstance(params, dict) and params:
        text = ", ".join(f"{k}={v!r}" for k, v in params.items())
        rows += f"<tr><th>params</th><td><code>{_e(text)}</code></td></tr>"
    report = ""
    if REPORT_PATH in app.endpoints:
        report = (
            f'<p><a id="report-link" href="{REPORT_PATH}">Report for version '
            f"{_e(meta.get('version'))}</a> (scores and plots on the test data; "
            "made on the first visit)</p>"
        )
    return (
        f'<section id="active"><h2>Active model</h2>'
        f'<table class="kv">{rows}</table>{report}</section>'
    )


def _scores(meta: dict[str, Any]) -> dict[str, Any]:
    """Test then train scores by column label (Palladium's ``score_test`` when alone)."""
    found: dict[str, Any] = {}
    for split in ("test", "train"):
        scores = meta.get(f"scores_{split}")
        if isinstance(scores, dict) and scores:
            found.update({f"{split} {k}": v for k, v in scores.items()})
        elif meta.get(f"score_{split}") is not None:
            found[f"{split} score"] = meta[f"score_{split}"]
    return found


def _versions(app: App, active: Any) -> str:
    persister = app.models.persister
    if persister is None:
        return ""
    try:
        models = list(persister.list_models())
    except Exception as exc:  # the store is down: the page still shows the rest
        return f'<section id="versions"><h2>Versions</h2><p class="warn">{_e(exc)}</p></section>'
    scores = [_scores(m) for m in models]
    names = list(dict.fromkeys(k for s in scores for k in s))
    timed = any("fit_seconds" in m for m in models)
    head = "".join(
        f'<th data-sort="{kind}">{_e(label)}</th>'
        for kind, label in [
            ("num", "version"),
            ("text", "trained"),
            *([("num", "fit seconds")] if timed else []),
            *(("num", n) for n in names),
        ]
    )
    rows = []
    for meta, score in zip(models, scores, strict=True):
        version = meta.get("version")
        mark = ' class="active"' if version == active else ""
        cells = [
            f'<td data-value="{_e(version)}">{_e(version)}'
            + (" ✓" if version == active else "")
            + "</td>",
            f"<td>{_e(meta.get('train_timestamp') or meta.get('created') or '')}</td>",
            *([_num_cell(meta.get("fit_seconds"))] if timed else []),
            *(_num_cell(score.get(n)) for n in names),
        ]
        rows.append(f"<tr{mark}>{''.join(cells)}</tr>")
    return (
        f'<section id="versions"><h2>Versions ({len(models)})</h2>'
        f'<table class="sortable" id="versions-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _num_cell(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return '<td data-value=""></td>'
    return f'<td data-value="{value!r}">{_e(_number(value))}</td>'


def _columns(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    schema = meta.get("input_schema")
    columns = schema.get("columns") if isinstance(schema, dict) else None
    return {str(c.get("name")): c for c in columns or () if isinstance(c, dict)}


def _predict_forms(app: App, meta: dict[str, Any]) -> str:
    columns = _columns(meta)
    forms = []
    for key in app.predict_paths:
        service = app.config.get(key)
        if not isinstance(service, PredictService) or not isinstance(service.entry_point, str):
            continue
        endpoint = app.endpoints.get(service.entry_point)
        get = (endpoint.operations or {}).get("get") if endpoint is not None else None
        parameters = (get or {}).get("parameters") or []
        fields = "".join(_field(p, columns.get(str(p.get("name")))) for p in parameters)
        forms.append(
            f'<form class="predict" data-action="{_e(service.entry_point)}">'
            f"<h3>{_e(key)} <code>GET {_e(service.entry_point)}</code></h3>{fields}"
            '<button type="submit">Predict</button>'
            '<pre class="answer" aria-live="polite"></pre></form>'
        )
    if not forms:
        return ""
    return f'<section id="predict"><h2>Try a prediction</h2>{"".join(forms)}</section>'


def _field(parameter: dict[str, Any], column: dict[str, Any] | None) -> str:
    name = str(parameter.get("name"))
    kind = str((parameter.get("schema") or {}).get("type") or "string")
    required = " required" if parameter.get("required") else ""
    hint, attrs, value = "", "", ""
    column = column or {}
    if kind in ("number", "integer"):
        step = "any" if kind == "number" else "1"
        attrs = f' type="number" step="{step}"'
        low, high = column.get("min"), column.get("max")
        if low is not None and high is not None:
            hint = f"seen {_number(low)} … {_number(high)}"
            value = _number((low + high) / 2 if kind == "number" else low)
    elif kind == "boolean":
        attrs = ' type="text" placeholder="true/false"'
    else:
        attrs = ' type="text"'
        categories = column.get("categories")
        if categories:
            options = "".join(f"<option>{_e(c)}</option>" for c in categories[:200])
            listid = f"list-{abs(hash(name))}"
            attrs += f' list="{listid}"'
            hint = f'<datalist id="{listid}">{options}</datalist>{len(categories)} categories'
            value = str(categories[0])
    return (
        f"<label>{_e(name)} <small>{_e(kind)}</small>"
        f'<input name="{_e(name)}"{attrs} value="{_e(value)}"{required}>'
        f"<small>{hint if '<' in hint else _e(hint)}</small></label>"
    )


def _schema(meta: dict[str, Any]) -> str:
    columns = _columns(meta)
    if not columns:
        return ""
    rows = "".join(
        f"<tr><td>{_e(n)}</td><td>{_e(c.get('type', ''))}</td>"
        f"<td>{_e(_number(c.get('min')))}</td><td>{_e(_number(c.get('max')))}</td>"
        f"<td>{_e(', '.join(map(str, (c.get('categories') or [])[:10])))}</td>"
        f"<td>{_e(c.get('nullable'))}</td></tr>"
        for n, c in columns.items()
    )
    return (
        '<section id="schema"><h2>Input schema (seen in training)</h2><table>'
        "<thead><tr><th>name</th><th>type</th><th>min</th><th>max</th><th>categories</th>"
        f"<th>nullable</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _jobs(app: App) -> str:
    """Running jobs: this process's, and every worker's when the job store is shared."""
    jobs = dict((process_store.get("process_metadata") or {}).get("jobs") or {})
    try:
        shared = app_jobs(app)
        if shared.shared:
            jobs.update(job_records(shared))
    except Exception as exc:  # the job store is down: say so, show the rest of the page
        warning = f'<p class="warn">job store: {_e(exc)}</p>'
        return f'<section id="jobs"><h2>Jobs in progress</h2>{warning}</section>'
    running = {k: j for k, j in jobs.items() if j.get("status") == "running"}
    if not running:
        return '<section id="jobs"><h2>Jobs in progress</h2><p>None.</p></section>'
    rows = "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(j.get('func') or j.get('name') or '')}</td>"
        f"<td>{_e(j.get('started') or '')}</td>"
        f"<td><code>{_e(encode_text(j.get('progress') or {}))}</code></td></tr>"
        for k, j in running.items()
    )
    return (
        '<section id="jobs"><h2>Jobs in progress</h2><table><thead><tr><th>id</th>'
        "<th>job</th><th>started</th><th>progress</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _metrics(app: App) -> str:
    if METRICS_PATH not in app.endpoints:
        return ""
    return (
        '<section id="metrics" data-url="/metrics"><h2>Requests (live)</h2>'
        "<table><thead><tr><th>endpoint</th><th>requests</th><th>mean latency</th></tr>"
        '</thead><tbody><tr><td colspan="3">loading…</td></tr></tbody></table></section>'
    )


_DOCUMENT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} {version}</title><link rel="icon" href="data:,"><style>{style}</style></head>
<body><header><h1>{title} <span class="v">{version}</span></h1>
<p>pld {pld} · {links}</p></header>
<main>{body}</main>
<script>{script}</script></body></html>
"""

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#234;color:#fff;padding:.6em 1.5em}header a{color:#cde}
h1{margin:.2em 0}.v{font-weight:normal;opacity:.7}main{padding:0 1.5em 2em}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5em 1em;margin:1em 0}
table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:.2em .6em;text-align:left}
th[data-sort]{cursor:pointer;user-select:none}th[data-sort]:after{content:" ⇅";opacity:.4}
tr.active{background:#e8f4e8}.kv th{width:12em;color:#555}.warn{color:#a40}
form.predict label{display:inline-block;margin:.3em 1em .3em 0}
form.predict input{display:block;width:10em}form.predict small{display:block;color:#777}
pre.answer{background:#f3f3f3;padding:.5em;min-height:1.5em;white-space:pre-wrap}
"""

_SCRIPT = r"""
"use strict";
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th[data-sort]").forEach(function (th, column) {
    var ascending = true;
    th.addEventListener("click", function () {
      var body = table.tBodies[0], numeric = th.dataset.sort === "num";
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column], y = b.cells[column];
        var p = x.dataset.value !== undefined ? x.dataset.value : x.textContent;
        var q = y.dataset.value !== undefined ? y.dataset.value : y.textContent;
        if (numeric) {
          p = p === "" ? -Infinity : parseFloat(p); q = q === "" ? -Infinity : parseFloat(q);
          return ascending ? p - q : q - p;
        }
        return ascending ? p.localeCompare(q) : q.localeCompare(p);
      });
      rows.forEach(function (row) { body.appendChild(row); });
      ascending = !ascending;
    });
  });
});
document.querySelectorAll("form.predict").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var out = form.querySelector("pre.answer");
    var query = new URLSearchParams(new FormData(form)).toString();
    out.textContent = "…";
    fetch(form.dataset.action + "?" + query, {credentials: "same-origin"})
      .then(function (r) { return r.text().then(function (t) { return [r.status, t]; }); })
      .then(function (a) {
        var text = a[1];
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) {}
        out.textContent = "HTTP " + a[0] + "\n" + text;
        out.dataset.status = a[0];
      })
      .catch(function (e) { out.textContent = "request failed: " + e; });
  });
});
var metrics = document.getElementById("metrics");
function refreshMetrics() {
  fetch(metrics.dataset.url, {credentials: "same-origin"}).then(function (r) {
    return r.ok ? r.text() : "";
  }).then(function (text) {
    var counts = {}, sums = {};
    text.split("\n").forEach(function (line) {
      var m = line.match(/^(\w+?)(_total|_sum|_count)?\{([^}]*)\}\s+([0-9.eE+-]+)/);
      if (!m || line[0] === "#") { return; }
      var ep = (m[3].match(/endpoint="([^"]*)"/) || [])[1];
      if (!ep) { return; }
      if (/seconds/.test(m[1]) && m[2] === "_sum") { sums[ep] = (sums[ep] || 0) + +m[4]; }
      else if (/seconds/.test(m[1]) && m[2] === "_count") {
        counts[ep] = (counts[ep] || 0) + +m[4];
      }
    });
    var rows = Object.keys(counts).sort().map(function (ep) {
      var mean = counts[ep] ? (1000 * (sums[ep] || 0) / counts[ep]).toFixed(2) + " ms" : "";
      return "<tr><td>" + ep.replace(/[<&]/g, "") + "</td><td>" + counts[ep] +
        "</td><td>" + mean + "</td></tr>";
    });
    metrics.tBodies[0].innerHTML = rows.join("") || "<tr><td colspan=3>no requests yet</td></tr>";
  }).catch(function () {});
}
if (metrics) { metrics.tBodies = metrics.getElementsByTagName("tbody"); refreshMetrics();
  setInterval(refreshMetrics, 5000); }
"""


_DOC = {
    "get": {
        "summary": "A page to look at the service: versions, input schema, jobs, a predict form",
        "responses": {
            "200": {
                "description": "The HTML page.",
                "content": {"text/html": {"schema": {"type": "string"}}},
            }
        },
    }
}


@hookimpl
def pld_register_routes(register: Callable[..., None], app: Any) -> None:
    if app is None or enabled(app.config):
        register(PATH, page, decorators="page_decorators", openapi=_DOC)
