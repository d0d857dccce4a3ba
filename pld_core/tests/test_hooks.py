"""Each hook, called the way pld calls it; plus the guarantees every hookspec must meet."""

from __future__ import annotations

import inspect
import re
import time
from pathlib import Path
from typing import Any

import pytest

from pld_core import PluginConflictError, fit, hookimpl, hookspecs, load_config, run_task
from pld_core.registry import collect_registry, collect_routes

REPO = Path(__file__).resolve().parents[2]
SPECS = [
    name
    for name, value in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("pld_")
]

TOY_CONFIG = """{
    'dataset_loader_train': {'!': 'list-loader'},
    'dataset_loader_test': {'!': 'list-loader', 'offset': 2},
    'model': {'!': 'threshold'},
    'model_persister': {'!': 'json', 'path': here + '/models.json'},
}"""


@pytest.mark.parametrize("name", SPECS)
def test_every_hookspec_documents_every_argument(name):
    spec = getattr(hookspecs, name)
    doc = inspect.getdoc(spec) or ""
    assert doc.strip(), f"{name} has no docstring"
    for argument in inspect.signature(spec).parameters:
        assert f":param {argument}:" in doc, f"{name} does not document {argument!r}"


@pytest.mark.parametrize("name", SPECS)
def test_every_hookspec_has_a_test(name):
    pattern = re.compile(rf"def test_hook_{name}\b")
    sources = [p.read_text() for p in REPO.glob("*/tests/**/*.py")]
    sources += [p.read_text() for p in REPO.glob("tests/**/*.py")]
    assert any(pattern.search(text) for text in sources), f"no test_hook_{name} in the repo"


class Spy:
    """Wraps every call-through hook and records what passes through."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl(wrapper=True)
    def pld_load_data(self, loader: Any) -> Any:
        self.calls.append(f"load_data:{loader.__pld_config_key__}")
        return (yield)

    @hookimpl(wrapper=True)
    def pld_fit(self, model: Any, X: Any, y: Any) -> Any:
        self.calls.append(f"fit:{len(X)}")
        return (yield)

    @hookimpl(wrapper=True)
    def pld_write_model(self, persister: Any, model: Any) -> Any:
        version = yield
        self.calls.append(f"write_model:{version}")
        return version

    @hookimpl(wrapper=True)
    def pld_read_model(self, persister: Any, version: Any) -> Any:
        model = yield
        self.calls.append(f"read_model:{model.__metadata__['version']}")
        return model


@pytest.fixture
def spy(pm):
    spy = Spy()
    pm.register(spy, name="spy")
    return spy


def test_hook_pld_load_data(pm, spy, write_config):
    from pld_core import load_data

    config = load_config(write_config(TOY_CONFIG), plugins=pm)
    X, y = load_data(config, "dataset_loader_test")
    assert spy.calls == ["load_data:dataset_loader_test"]
    assert X[0] == [2.0]


def test_hook_pld_fit(pm, spy, write_config):
    config = load_config(write_config(TOY_CONFIG), plugins=pm, __mode__="fit")
    result = fit(config, persist=False)
    assert spy.calls == ["load_data:dataset_loader_train", "fit:20"]
    assert result.model.classes_ == ["big", "small"]


def test_hook_pld_write_model(pm, spy, write_config):
    config = load_config(write_config(TOY_CONFIG), plugins=pm, __mode__="fit")
    assert fit(config).version == 1
    assert spy.calls[-1] == "write_model:1"


def test_hook_pld_read_model(pm, spy, write_config):
    config = load_config(write_config(TOY_CONFIG), plugins=pm, __mode__="fit")
    fit(config)
    fit(config)
    assert run_task(config, "test", model_version=1).version == 1
    assert spy.calls[-1] == "read_model:1"


def test_a_plugin_can_replace_a_call_through_hook(pm, write_config):
    class NoFit:
        @hookimpl
        def pld_fit(self, model, X, y):
            model.classes_ = ["replaced"]
            return model

    pm.register(NoFit(), name="nofit")
    config = load_config(write_config(TOY_CONFIG), plugins=pm)
    assert fit(config, persist=False).model.classes_ == ["replaced"]


def test_hook_pld_predict(pm, write_config):
    class Doubler:
        @hookimpl(wrapper=True)
        def pld_predict(self, model, X, method, params):
            result = yield
            return [f"{method}:{value}" for value in result]

    pm.register(Doubler(), name="doubler")
    config = load_config(write_config(TOY_CONFIG), plugins=pm)
    model = config["model"]
    assert pm.hook.pld_predict(model=model, X=[[9.0], [1.0]], method="predict", params={}) == [
        "predict:big",
        "predict:small",
    ]


def test_hook_pld_make_scorer(pm, write_config):
    def half(model, X, y):
        return 0.5

    class Scorers:
        @hookimpl
        def pld_make_scorer(self, scoring):
            return half if scoring == "half" else None

    pm.register(Scorers(), name="scorers")
    config = load_config(
        write_config(
            TOY_CONFIG[:-1] + "'scoring': {'half': 'half', 'mine': lambda model, X, y: 0.25}}"
        ),
        plugins=pm,
        __mode__="fit",
    )
    fit(config)
    assert run_task(config, "test").scores == {"half": 0.5, "mine": 0.25}

    unknown = load_config(write_config(TOY_CONFIG[:-1] + "'scoring': 'nope'}"), plugins=pm)
    with pytest.raises(Exception, match="unknown scorer 'nope'"):
        fit(unknown, evaluate=True)


def test_hook_pld_register_dataset_loaders(pm):
    entry = collect_registry(pm).get("list-loader")
    assert (entry.kind, entry.plugin) == ("dataset_loader", "toy")
    assert collect_registry(pm).get("palladium.dataset.ListLoader").is_alias


def test_hook_pld_register_models(pm):
    assert collect_registry(pm).get("threshold").kind == "model"


def test_hook_pld_register_persisters(pm):
    assert collect_registry(pm).get("json").kind == "persister"


def test_hook_pld_register_predict_services(pm):
    class Services:
        @hookimpl
        def pld_register_predict_services(self, register):
            register("echo-service", dict)

    pm.register(Services(), name="services")
    assert collect_registry(pm).get("echo-service").kind == "predict_service"


def test_hook_pld_register_decorators(pm, write_config):
    seen = []

    def count(func):
        def wrapper(*args, **kwargs):
            seen.append(func.__name__)
            return func(*args, **kwargs)

        return wrapper

    class Decorators:
        @hookimpl
        def pld_register_decorators(self, register):
            register("count", count)

    pm.register(Decorators(), name="decorators")
    text = TOY_CONFIG[:-1] + (
        "'fit_decorators': ['count'], 'load_data_decorators': ['count'],"
        " 'write_model_decorators': ['count']}"
    )
    config = load_config(write_config(text), plugins=pm)
    fit(config)
    assert seen == ["_fit", "load", "write"]


def test_decorator_lists_apply_last_entry_outermost(pm, write_config, tmp_path):
    (tmp_path / "decos.py").write_text(
        "def times10(f):\n    return lambda *a, **k: f(*a, **k) * 10\n"
        "def plus2(f):\n    return lambda *a, **k: f(*a, **k) + 2\n"
    )
    from pld_core import decorate

    config = load_config(write_config("{'d': ['decos.times10', 'decos.plus2']}"), plugins=pm)
    assert decorate(lambda: 2 + 3, config, "d")() == 52
    assert decorate(len, config, "absent") is len


def test_hook_pld_register_routes(pm):
    def explain(request, app):
        return "explained"

    class Routes:
        @hookimpl
        def pld_register_routes(self, register):
            register("/explain", explain, methods=["post"], decorators="explain_decorators")

    pm.register(Routes(), name="routes")
    [route] = [route for route in collect_routes(pm) if route.plugin == "routes"]
    assert (route.path, route.methods, route.decorators, route.plugin) == (
        "/explain",
        ("POST",),
        "explain_decorators",
        "routes",
    )

    class Again:
        @hookimpl
        def pld_register_routes(self, register):
            register("/explain", explain, methods=["POST"])

    pm.register(Again(), name="again")
    with pytest.raises(PluginConflictError, match="POST /explain is registered twice"):
        collect_routes(pm)


def test_duplicate_component_name_names_both_plugins(pm):
    class Clash:
        @hookimpl
        def pld_register_models(self, register):
            register("json", dict)

    pm.register(Clash(), name="clash")
    with pytest.raises(PluginConflictError) as info:
        collect_registry(pm)
    message = str(info.value)
    assert "'json' is registered twice" in message
    assert "plugin 'toy'" in message and "plugin 'clash'" in message


def test_hook_pld_register_components(pm, write_config):
    entry = collect_registry(pm).get("palladium.server.add_url_rule")
    assert (entry.kind, entry.plugin, entry.factory.__name__) == (
        "component",
        "pld_core.default_plugins.endpoints",
        "UrlRule",
    )
    assert collect_registry(pm).get("url-rule").factory is entry.factory
    config = load_config(
        write_config(
            "{'rules': [{'!': 'palladium.server.add_url_rule', 'rule': '/fit',"
            " 'view_func': 'palladium.server.fit', 'methods': ['POST']}]}"
        ),
        plugins=pm,
    )
    [rule] = config["rules"]
    assert (rule.rule, rule.view, rule.methods) == ("/fit", "fit", ("POST",))


def test_hook_pld_register_tasks(pm, write_config):
    """A plugin's task is ``pld <name>`` and, once a url-rule names it, an endpoint: the same
    options reach the same ``run`` from both."""
    from click.testing import CliRunner
    from werkzeug.test import Client

    from pld_core import Option, Task, create_app, make_cli, process_store

    calls: list[dict[str, Any]] = []

    def count(config: Any, *, times: int = 1, dry_run: bool = False, label: Any = None) -> Any:
        calls.append({"times": times, "dry_run": dry_run, "label": label})
        return times * 2

    task = Task(
        "count",
        run=count,
        options=(
            Option("times", kind=int, default=1),
            Option("dry_run", default=False),
            Option("label", kind=str, http=False),
        ),
        report=lambda result, options, echo: echo(f"counted {result} with {sorted(options)}"),
    )

    class Tasks:
        @hookimpl
        def pld_register_tasks(self, register):
            register(task)

    pm.register(Tasks(), name="tasks")
    rule = "{'!': 'url-rule', 'rule': '/count', 'view_func': 'count'}"
    path = write_config(TOY_CONFIG[:-1] + f"    'rules': [{rule}],\n}}")
    cli = make_cli(pm)
    ran = CliRunner().invoke(cli, ["--config", path, "count", "--times", "3", "--dry-run"])
    assert ran.exit_code == 0, ran.output
    assert ran.stdout == "counted 6 with ['dry_run', 'times']\n"
    assert "--label TEXT" in CliRunner().invoke(cli, ["count", "--help"]).stdout

    client = Client(create_app(load_config(path, plugins=pm)))
    started = client.post("/count", query_string={"times": "3"}, data={"dry_run": "true"})
    assert started.status_code == 200
    job = process_store["process_metadata"]["jobs"][started.json["job_id"]]
    deadline = time.monotonic() + 10
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (job["func"], job["status"], job["info"]) == ("count", "finished", "6")
    assert calls == [{"times": 3, "dry_run": True, "label": None}] * 2
    refused = client.post("/count", json={"label": "here"})
    assert refused.status_code == 400
    assert "unknown option(s) for count: label" in refused.json["metadata"]["error_message"]

    class Again:
        @hookimpl
        def pld_register_tasks(self, register):
            register(Task("count", run=count))

    pm.register(Again(), name="again")
    with pytest.raises(PluginConflictError, match="'count' is registered twice: by plugin "):
        make_cli(pm)
    pm.unregister(name="again")

    class Shadow:
        @hookimpl
        def pld_register_tasks(self, register):
            register(Task("list", run=count))

    pm.register(Shadow(), name="shadow")
    with pytest.raises(
        PluginConflictError,
        match="command 'list' is registered twice: by plugin "
        "'pld_core.default_plugins.store_admin' and by plugin 'shadow'",
    ):
        make_cli(pm)


def test_hook_pld_register_views(pm, write_config):
    """A plugin's named view is served where a config's url-rule mounts it, in its decorators;
    a name two plugins register is an error naming both."""
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from pld_core import create_app

    def model_class(request, app):
        return app.json({"class": type(app.config["model"]).__name__})

    def stamp(view):
        def wrapped(request):
            response: Response = view(request)
            response.headers["X-Stamp"] = "yes"
            return response

        return wrapped

    class Views:
        @hookimpl
        def pld_register_views(self, register):
            register(
                "model-class",
                model_class,
                aliases=["mine.model_class"],
                decorators="model_class_decorators",
            )

    pm.register(Views(), name="views")
    rules = (
        "{'!': 'url-rule', 'rule': '/what', 'view_func': 'model-class', 'methods': ['GET']},"
        "{'!': 'url-rule', 'rule': '/what2', 'view_func': 'mine.model_class'}"
    )
    config = load_config(write_config(TOY_CONFIG[:-1] + f"    'rules': [{rules}],\n}}"), plugins=pm)
    config["model_class_decorators"] = [stamp]
    client = Client(create_app(config))
    answer = client.get("/what")
    assert answer.status_code == 200 and answer.json == {"class": "ThresholdModel"}
    assert answer.headers["X-Stamp"] == "yes"
    assert client.get("/what2").json == {"class": "ThresholdModel"}
    assert client.post("/what").status_code == 405

    class Again:
        @hookimpl
        def pld_register_views(self, register):
            register("model-class", model_class)

    pm.register(Again(), name="again")
    with pytest.raises(
        PluginConflictError,
        match="view 'model-class' is registered twice: by plugin 'again' and by plugin 'views'",
    ):
        create_app(config)
