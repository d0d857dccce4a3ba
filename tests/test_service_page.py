"""The service page at ``/`` and the HTML reports, in a real headless Chromium.

One browser for the module (Debian's ``chromium`` driven by Playwright), one ``pld serve`` with
three stored iris versions. Every page load checks that the browser logged no error and asked
nothing of a host other than 127.0.0.1 (requests anywhere else are intercepted and refused).
Screenshots of the page and of each report go to ``$PLD_SCREENSHOTS`` or a pytest temporary
folder; the path is printed (``pytest -s``) and shown in the test report's header line.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from pld_core import create_app, fit, list_models, load_config, process_store
from pld_core.testing import free_port, http_json, running_server

CHROMIUM = os.environ.get("PLD_CHROMIUM", "/usr/bin/chromium")
PLD = str(Path(sys.executable).with_name("pld"))
REPO = Path(__file__).resolve().parents[1]
AUTH_EXAMPLE = REPO / "examples" / "basic-auth"
VERSIONS = 3
METRICS = """
    'predict_decorators': ['prometheus-metrics'],
    'metrics_rule': {'!': 'url-rule', 'rule': '/metrics', 'methods': ['GET'],
                     'view_func': 'pld_plugins.metrics.metrics_view'},
"""
SAMPLE = {"sepal length": "6.3", "sepal width": "2.5", "petal length": "4.9", "petal width": "1.5"}

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


# -- fixtures ---------------------------------------------------------------------------------


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: ``$PLD_SCREENSHOTS``, else a pytest temporary folder."""
    given = os.environ.get("PLD_SCREENSHOTS")
    folder = Path(given) if given else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}", file=sys.stderr)
    return folder


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, iris_config_text: str) -> Path:
    """An iris project with three stored versions (the last one active) and /metrics on."""
    folder = tmp_path_factory.mktemp("page")
    text = iris_config_text.rstrip()[:-1] + METRICS + "\n}"
    (folder / "config.py").write_text(text)
    for _ in range(VERSIONS):
        fit(load_config(str(folder / "config.py"), __mode__="fit"), evaluate=True)
    process_store.clear()
    return folder


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLD_", "PALLADIUM_"))}
    return {**env, **extra}


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[str]:
    port = free_port()
    env = _env(PLD_CONFIG=str(project / "config.py"))
    with running_server([PLD, "serve", "--port", str(port)], port, cwd=project, env=env) as url:
        yield url


@pytest.fixture(scope="module")
def auth_server(project: Path) -> Iterator[str]:
    """The same project behind the Basic Auth example (admin / s3cret)."""
    port = free_port()
    configs = f"{project / 'config.py'},{AUTH_EXAMPLE / 'config-auth.py'}"
    env = _env(PLD_CONFIG=configs, PLD_BASIC_AUTH_USER="admin", PLD_BASIC_AUTH_PASSWORD="s3cret")
    with running_server([PLD, "serve", "--port", str(port)], port, cwd=project, env=env) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Watched:
    """A browser page that records console errors and refuses requests off 127.0.0.1."""

    def __init__(self, browser: Any, **context: Any):
        self.context = browser.new_context(viewport={"width": 1200, "height": 900}, **context)
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route: Any) -> None:
        url = route.request.url
        host = urllib.parse.urlsplit(url).hostname
        if url.startswith(("data:", "blob:", "file:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def assert_clean(self) -> None:
        assert self.outside == [], f"requests left 127.0.0.1: {self.outside}"
        assert self.errors == [], f"console errors: {self.errors}"


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    opened = Watched(browser)
    yield opened
    opened.context.close()


# -- the page ---------------------------------------------------------------------------------


def test_page_loads_offline_without_console_errors(server, watched, screenshots):
    response = watched.page.goto(server + "/", wait_until="networkidle")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert watched.page.title() == "iris 0.1"
    for section in ("active", "versions", "predict", "schema", "jobs", "metrics"):
        assert watched.page.locator(f"section#{section}").count() == 1, section
    # the live metrics table filled itself from /metrics
    watched.page.wait_for_function(
        "!document.querySelector('#metrics tbody').textContent.includes('loading')"
    )
    watched.page.screenshot(path=str(screenshots / "service-page.png"), full_page=True)
    watched.assert_clean()


def test_version_table_shows_every_version_and_sorts(server, watched, project):
    stored = list_models(load_config(str(project / "config.py")))["models"]
    process_store.clear()
    watched.page.goto(server + "/")
    rows = watched.page.locator("#versions-table tbody tr")
    assert rows.count() == len(stored) == VERSIONS
    versions = [
        int(v)
        for v in rows.locator("td:first-child").evaluate_all(
            "cells => cells.map(c => c.dataset.value)"
        )
    ]
    assert versions == [m["version"] for m in stored]
    assert watched.page.locator("#versions-table tr.active td:first-child").get_attribute(
        "data-value"
    ) == str(max(versions))
    header = watched.page.locator("#versions-table th", has_text="version")
    header.click()
    header.click()  # second click: descending
    descending = rows.locator("td:first-child").evaluate_all(
        "cells => cells.map(c => +c.dataset.value)"
    )
    assert descending == sorted(versions, reverse=True)
    scores = watched.page.locator("#versions-table th", has_text="test score")
    assert scores.count() == 1
    watched.assert_clean()


def _submit_form(page: Any, values: dict[str, str]) -> tuple[int, Any]:
    form = page.locator("form.predict").first
    for name, value in values.items():
        form.locator(f'input[name="{name}"]').fill(value)
    form.locator("button[type=submit]").click()
    answer = form.locator("pre.answer")
    page.wait_for_function("document.querySelector('pre.answer').dataset.status")
    status, _, body = answer.text_content().partition("\n")
    return int(status.split()[1]), json.loads(body)


def test_predict_form_shows_the_same_prediction_as_a_direct_get(server, watched):
    watched.page.goto(server + "/")
    status, shown = _submit_form(watched.page, SAMPLE)
    direct_status, direct = http_json(server + "/predict?" + urllib.parse.urlencode(SAMPLE))
    assert status == direct_status == 200
    assert shown == direct
    assert shown["result"] in ("Iris-versicolor", "Iris-virginica", "Iris-setosa")
    watched.assert_clean()


def test_predict_form_shows_the_error_answer(server, watched):
    watched.page.goto(server + "/")
    form = watched.page.locator("form.predict").first
    form.locator('input[name="petal width"]').evaluate("e => e.removeAttribute('required')")
    status, shown = _submit_form(watched.page, {"petal width": ""})
    assert status == 400
    assert shown["metadata"]["status"] == "ERROR"
    # a 400 answer is shown, not raised: the browser logs the failed fetch only as a network line
    watched.errors = [e for e in watched.errors if "400" not in e]
    watched.assert_clean()


def test_page_behind_basic_auth(auth_server, browser, screenshots):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(auth_server + "/", timeout=10)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["metadata"]["error_code"] == 401

    anonymous = Watched(browser)
    try:
        # Chromium, challenged with no credentials to give, ends the navigation with an error
        with pytest.raises(sync_api.Error, match="ERR_INVALID_AUTH_CREDENTIALS"):
            anonymous.page.goto(auth_server + "/")
    finally:
        anonymous.context.close()

    allowed = Watched(browser, http_credentials={"username": "admin", "password": "s3cret"})
    try:
        assert allowed.page.goto(auth_server + "/").status == 200
        status, shown = _submit_form(allowed.page, SAMPLE)
        assert status == 200
        assert shown == _get_with_auth(auth_server + "/predict?" + urllib.parse.urlencode(SAMPLE))
        allowed.page.screenshot(path=str(screenshots / "service-page-auth.png"))
        allowed.assert_clean()
    finally:
        allowed.context.close()


def _get_with_auth(url: str) -> Any:
    token = base64.b64encode(b"admin:s3cret").decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# -- the switch -------------------------------------------------------------------------------


def test_service_page_can_be_switched_off(tmp_path, iris_config_text):
    (tmp_path / "config.py").write_text(iris_config_text.rstrip()[:-1] + "'service_page': False}")
    app = create_app(load_config(str(tmp_path / "config.py")))
    answer = Client(app).get("/")
    assert answer.status_code == 404
    assert answer.json["metadata"]["status"] == "ERROR"
    assert "/" not in app.endpoints


# -- the reports ------------------------------------------------------------------------------

REGRESSOR_CONFIG = """{
    'service_metadata': {'service_name': 'diabetes', 'service_version': '1'},
    'dataset_loader_train': {'!': 'table', 'path': here + '/diabetes.csv', 'sep': ',',
                             'target_column': 'target', 'nrows': 340},
    'dataset_loader_test': {'__copy__': 'dataset_loader_train', 'nrows': None,
                            'skiprows': range(1, 341)},
    'model': {'!': 'sklearn.linear_model.Ridge', 'alpha': 0.1},
    'scoring': 'r2',
    'model_persister': {'!': 'file', 'path': here + '/model-{version}'},
}"""


def _pld(*args: str, cwd: Path, config: str) -> str:
    import subprocess

    done = subprocess.run(
        [PLD, *args],
        cwd=cwd,
        env=_env(PLD_CONFIG=config),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _open_report(browser: Any, url: str, shot: Path) -> list[int]:
    """Open a report; the natural width of each image, after a full-page screenshot."""
    opened = Watched(browser)
    try:
        response = opened.page.goto(url)
        assert response is None or response.status == 200  # None: a file:// URL
        widths: list[int] = opened.page.evaluate(
            "Promise.all(Array.from(document.images).map(i => i.decode().then("
            "() => i.naturalWidth, () => 0)))"
        )
        opened.page.screenshot(path=str(shot), full_page=True)
        opened.assert_clean()
        return widths
    finally:
        opened.context.close()


def test_test_report_for_a_classifier(project, browser, screenshots):
    out = _pld(
        "test", "--report", "reports/iris.html", cwd=project, config=str(project / "config.py")
    )
    assert "Wrote report to reports/iris.html." in out
    report = project / "reports" / "iris.html"
    text = report.read_text()
    assert "Confusion matrix" in text and "ROC and precision-recall" in text
    assert f"All stored versions ({VERSIONS})" in text
    assert "http://" not in text and "https://" not in text  # self-contained
    widths = _open_report(browser, report.as_uri(), screenshots / "report-iris-test.png")
    assert len(widths) == 4  # confusion matrix, ROC, precision-recall, versions chart
    assert all(width > 0 for width in widths), widths


def test_fit_report_for_a_regressor(tmp_path, browser, screenshots):
    from sklearn.datasets import load_diabetes

    load_diabetes(as_frame=True).frame.to_csv(tmp_path / "diabetes.csv", index=False)
    (tmp_path / "config.py").write_text(REGRESSOR_CONFIG)
    config = str(tmp_path / "config.py")
    _pld("fit", "--evaluate", cwd=tmp_path, config=config)
    out = _pld("fit", "--evaluate", "--report", "fit.html", cwd=tmp_path, config=config)
    assert "Wrote model with version 2." in out and "Wrote report to fit.html." in out
    text = (tmp_path / "fit.html").read_text()
    assert "Predicted vs actual" in text and "Residuals" in text
    assert "Confusion matrix" not in text
    assert "diabetes: version 2" in text and "All stored versions (2)" in text
    widths = _open_report(
        browser, (tmp_path / "fit.html").as_uri(), screenshots / "report-diabetes-fit.png"
    )
    assert len(widths) == 3  # predicted vs actual, residuals, versions chart
    assert all(width > 0 for width in widths), widths


def test_grid_search_report(project, browser, screenshots):
    grid = project / "grid.py"
    grid.write_text(
        "{'grid_search': {'param_grid': {'C': [0.01, 0.1, 1.0], "
        "'fit_intercept': [True, False]}, 'cv': 3}}"
    )
    out = _pld(
        "grid-search",
        "--report",
        "grid.html",
        cwd=project,
        config=f"{project / 'config.py'},{grid}",
    )
    assert "Wrote report to grid.html." in out
    text = (project / "grid.html").read_text()
    assert "Results (6 candidates, best first)" in text
    assert "score against C" in text and "score against fit_intercept" in text
    widths = _open_report(
        browser, (project / "grid.html").as_uri(), screenshots / "report-grid-search.png"
    )
    assert len(widths) == 2 and all(width > 0 for width in widths), widths


def test_report_from_the_page_is_made_once_per_version(server, watched, browser, screenshots):
    watched.page.goto(server + "/")
    link = watched.page.locator("#report-link")
    assert link.get_attribute("href") == "/report"
    with watched.page.expect_navigation():
        link.click()
    widths = watched.page.evaluate(
        "Promise.all(Array.from(document.images).map(i => i.decode().then("
        "() => i.naturalWidth, () => 0)))"
    )
    assert len(widths) == 4 and all(width > 0 for width in widths), widths
    watched.page.screenshot(path=str(screenshots / "report-from-page.png"), full_page=True)
    watched.assert_clean()
    first = urllib.request.urlopen(server + "/report", timeout=60).read()
    again = urllib.request.urlopen(server + "/report", timeout=60).read()
    assert first == again  # cached: the same document, made at the same second
    # the predictions are unaffected
    assert http_json(server + "/predict?" + urllib.parse.urlencode(SAMPLE))[0] == 200


def test_report_without_the_plotting_plugin_is_one_line(project, tmp_path):
    import subprocess

    done = subprocess.run(
        [PLD, "test", "--report", str(tmp_path / "r.html")],
        cwd=project,
        env=_env(PLD_CONFIG=str(project / "config.py"), PLD_DISABLE_PLUGINS="pld_plugins.report"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "pld-plugins[report]" in done.stderr
    assert not (tmp_path / "r.html").exists()


def test_the_page_shows_jobs_in_progress_with_their_progress(project):
    import threading

    from pld_core import progress_reporter, run_job

    app = create_app(load_config(str(project / "config.py")))
    release = threading.Event()
    reported = threading.Event()

    def work() -> None:
        progress_reporter()(stage="Fitting model", done=2, total=9)
        reported.set()
        release.wait(30)

    thread, job_id = run_job(process_store, "fit", work)
    try:
        assert reported.wait(30)
        page = Client(app).get("/").get_data(as_text=True)
        jobs = page[page.index('<section id="jobs">') :]
        assert job_id in jobs and "fit" in jobs
        assert "Fitting model" in jobs and "&quot;done&quot;:2" in jobs
    finally:
        release.set()
        thread.join(30)
    page = Client(app).get("/").get_data(as_text=True)
    assert job_id not in page  # finished: no longer in progress


def test_report_is_no_http_option(tmp_path, iris_config_text):
    rule = "'fit_rule': {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']}"
    (tmp_path / "config.py").write_text(iris_config_text.rstrip()[:-1] + rule + "}")
    client = Client(create_app(load_config(str(tmp_path / "config.py"))))
    refused = client.post("/fit", json={"report": str(tmp_path / "written.html")})
    assert refused.status_code == 400
    assert "unknown option(s) for fit: report" in refused.json["metadata"]["error_message"]
    assert not (tmp_path / "written.html").exists()
