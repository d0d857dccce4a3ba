"""pld owns the names: commands, routes (pld's own paths too), tasks, views and components that
two plugins register are an error naming both, raised as the plugins load; ``pld plugins``
still runs and marks each clash; a predict service on a taken path is a config error before
any model is read.
"""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner

from pld_core import (
    ConfigError,
    PluginConflictError,
    PredictService,
    Task,
    create_app,
    get_plugin_manager,
    hookimpl,
    load_config,
    make_cli,
)
from pld_core.registry import check_names, find_clashes

STATUS = "pld_core.default_plugins.status"
STORE_ADMIN = "pld_core.default_plugins.store_admin"


@click.command("list")
def shadow_list() -> None:
    """A plugin's own ``list``."""
    click.echo("the plugin's list")


def explain(request: Any, app: Any) -> Any:
    return app.json({"explained": True})


class ListCommand:
    """Registers a command named like ``pld list``."""

    @hookimpl
    def pld_register_commands(self, register: Any) -> None:
        register(shadow_list)


class AliveRoute:
    """Registers POST on pld's ``/alive`` (pld's is GET: one path still has one owner)."""

    @hookimpl
    def pld_register_routes(self, register: Any) -> None:
        register("/alive", explain, methods=["POST"])


class Explainer:
    @hookimpl
    def pld_register_routes(self, register: Any) -> None:
        register("/explain", explain)


class OtherExplainer:
    @hookimpl
    def pld_register_routes(self, register: Any, app: Any) -> None:
        register("/explain", explain, methods=["GET", "POST"])


class Refresh:
    @hookimpl
    def pld_register_tasks(self, register: Any) -> None:
        register(Task("refresh", run=lambda config: "refreshed"))

    @hookimpl
    def pld_register_models(self, register: Any) -> None:
        register("forest", dict, aliases=["my.Forest"])


def registered(pm: Any, **plugins: Any) -> Any:
    for name, plugin in plugins.items():
        pm.register(plugin, name=name)
    return pm


def conflict(pm: Any) -> str:
    with pytest.raises(PluginConflictError) as info:
        check_names(pm)
    return str(info.value)


def test_a_command_named_like_pld_list_names_both_plugins(pm):
    message = conflict(registered(pm, shadow=ListCommand()))
    assert message.startswith(
        f"command 'list' is registered twice: by plugin 'shadow' and by plugin '{STORE_ADMIN}'"
    )
    assert message.endswith("disable one of the plugins with PLD_DISABLE_PLUGINS")
    with pytest.raises(PluginConflictError, match="command 'list' is registered twice"):
        make_cli(pm)


def test_a_route_on_pld_alive_clashes_when_plugins_load_without_an_app(pm):
    message = conflict(registered(pm, poster=AliveRoute()))
    assert message.startswith(
        f"route /alive is registered twice: by plugin 'poster' (POST) and by plugin '{STATUS}' "
        "(GET); one path has one owner"
    )


@pytest.mark.parametrize("path", ["/list", "/openapi.json"])
def test_every_core_path_is_owned(pm, path):
    class Taker:
        @hookimpl
        def pld_register_routes(self, register: Any) -> None:
            register(path, explain)

    message = conflict(registered(pm, taker=Taker()))
    assert f"route GET {path} is registered twice: by plugin 'taker' and by plugin " in message


def test_a_route_two_plugins_register_names_both(pm):
    message = conflict(registered(pm, first=Explainer(), second=OtherExplainer()))
    assert message.startswith(
        "route GET /explain is registered twice: by plugin 'second' and by plugin 'first'"
    )


def test_two_instances_of_one_plugin_class_are_told_apart(pm):
    message = conflict(registered(pm, one=Explainer(), two=Explainer()))
    assert "by plugin 'two' and by plugin 'one'" in message


def test_task_and_component_clashes_name_both_plugins(pm):
    class RefreshAgain(Refresh):
        pass

    found = find_clashes(registered(pm, refresh=Refresh(), again=RefreshAgain()))
    assert [(clash.kind, clash.name, clash.plugins) for clash in found] == [
        ("component", "forest", ("again", "refresh")),
        ("component", "my.Forest", ("again", "refresh")),
        ("task", "refresh", ("again", "refresh")),
    ]
    assert found[0].message == (
        "component name 'forest' is registered twice: as a model by plugin 'again' and as a "
        "model by plugin 'refresh'"
    )
    assert found[2].message == (
        "task 'refresh' is registered twice: by plugin 'again' and by plugin 'refresh'"
    )
    assert conflict(pm).startswith(found[0].message + " (and 2 more name clashes)")


def test_a_task_named_like_a_view_clashes_as_a_view(pm):
    class Activate:
        @hookimpl
        def pld_register_tasks(self, register: Any) -> None:
            register(Task("activate", run=lambda config: None))

    message = conflict(registered(pm, activator=Activate()))
    text = CliRunner().invoke(make_cli(pm, defer_clashes=True), ["plugins"]).stdout
    assert "activator\n  hooks: pld_register_tasks\n  tasks: activate [CLASH]\n" in text
    assert "  views: activate [CLASH], update-model-cache\n" in text
    assert message.startswith(
        "view 'activate' is registered twice: by plugin 'pld_core.default_plugins.endpoints' "
        "and by plugin 'activator'"
    )


def test_the_plugin_manager_refuses_clashing_installed_plugins(monkeypatch):
    """``get_plugin_manager`` checks the names it loads; disabling one of the two resolves it."""
    pm = get_plugin_manager(load_entrypoints=False)
    assert find_clashes(pm) == []
    disabled = get_plugin_manager(load_entrypoints=False, check=False)
    disabled.register(ListCommand(), name="shadow")
    assert len(find_clashes(disabled)) == 1
    monkeypatch.setenv("PLD_DISABLE_PLUGINS", STORE_ADMIN)
    alone = get_plugin_manager(load_entrypoints=False, check=False)
    alone.register(ListCommand(), name="shadow")
    assert find_clashes(alone) == []
    ran = CliRunner().invoke(make_cli(alone), ["list"])
    assert (ran.exit_code, ran.stdout) == (0, "the plugin's list\n")


def clashing_cli(pm: Any) -> click.Group:
    registered(
        pm,
        shadow=ListCommand(),
        poster=AliveRoute(),
        first=Explainer(),
        second=OtherExplainer(),
        refresh=Refresh(),
    )

    class RefreshAgain(Refresh):
        pass

    pm.register(RefreshAgain(), name="again")
    return make_cli(pm, defer_clashes=True)


def test_other_commands_stop_with_one_line_and_exit_2(pm):
    cli = clashing_cli(pm)
    for args in (["list"], ["serve"], ["refresh"], ["--debug", "fit"]):
        ran = CliRunner().invoke(cli, args)
        assert ran.exit_code == 2, (args, ran.output)
        assert ran.stdout == ""
        [line] = ran.stderr.splitlines()
        assert line.startswith("Error: component name 'forest' is registered twice: ")
        assert "(and 5 more name clashes)" in line
    assert CliRunner().invoke(cli, ["version"]).exit_code == 0


def test_pld_plugins_lists_and_marks_every_clash(pm):
    ran = CliRunner().invoke(clashing_cli(pm), ["plugins"])
    assert ran.exit_code == 0, ran.output
    text = ran.stdout
    assert "  commands: admin, export, list [CLASH], upgrade\n" in text
    assert "shadow\n  hooks: pld_register_commands\n  commands: list [CLASH]\n" in text
    assert "  routes: /alive [CLASH], /list\n" in text
    assert "poster\n  hooks: pld_register_routes\n  routes: /alive [CLASH]\n" in text
    assert "first\n  hooks: pld_register_routes\n  routes: /explain [CLASH]\n" in text
    assert "second\n  hooks: pld_register_routes\n  routes: /explain [CLASH]\n" in text
    for plugin in ("refresh", "again"):
        assert (
            f"{plugin}\n  hooks: pld_register_models, pld_register_tasks\n"
            "  components: forest [CLASH], my.Forest [CLASH]\n  tasks: refresh [CLASH]\n"
        ) in text
    summary = text[text.index("\n6 name clashes") :]
    assert summary.splitlines()[1] == (
        "6 name clashes; other commands stop until one plugin of each pair is disabled "
        "(PLD_DISABLE_PLUGINS):"
    )
    assert sorted(summary.splitlines()[2:]) == [
        f"  command 'list' is registered twice: by plugin 'shadow' and by plugin '{STORE_ADMIN}'",
        "  component name 'forest' is registered twice: as a model by plugin 'again' and as a "
        "model by plugin 'refresh'",
        "  component name 'my.Forest' is registered twice: as a model by plugin 'again' and as "
        "a model by plugin 'refresh'",
        "  route /alive is registered twice: by plugin 'poster' (POST) and by plugin "
        f"'{STATUS}' (GET); one path has one owner",
        "  route GET /explain is registered twice: by plugin 'second' and by plugin 'first'",
        "  task 'refresh' is registered twice: by plugin 'again' and by plugin 'refresh'",
    ]


def test_pld_plugins_json_carries_the_clashes(pm):
    ran = CliRunner().invoke(clashing_cli(pm), ["plugins", "--json"])
    assert ran.exit_code == 0, ran.output
    described = {plugin["name"]: plugin for plugin in json.loads(ran.stdout)}
    assert described["shadow"]["commands"] == ["list"]
    assert described["shadow"]["clashes"] == [
        {
            "kind": "command",
            "name": "list",
            "plugins": ["shadow", STORE_ADMIN],
            "message": f"command 'list' is registered twice: by plugin 'shadow' and by plugin "
            f"'{STORE_ADMIN}'",
        }
    ]
    assert described[STORE_ADMIN]["clashes"] == described["shadow"]["clashes"]
    assert [c["name"] for c in described[STATUS]["clashes"]] == ["/alive"]
    assert described["second"]["routes"] == described["first"]["routes"] == ["/explain"]
    assert [(c["kind"], c["name"]) for c in described["again"]["clashes"]] == [
        ("component", "forest"),
        ("component", "my.Forest"),
        ("task", "refresh"),
    ]
    assert described["again"]["tasks"] == described["refresh"]["tasks"] == ["refresh"]
    assert described["pld_core.default_plugins.serving"]["clashes"] == []


def test_a_plugin_command_named_plugins_does_not_hide_pld_plugins(pm):
    """Of two claims the plugin registered first keeps the name, so pld's own ``plugins``
    still shows the clash."""

    @click.command("plugins")
    def mine() -> None:
        click.echo("not pld's")

    class Plugins:
        @hookimpl
        def pld_register_commands(self, register: Any) -> None:
            register(mine)

    ran = CliRunner().invoke(
        make_cli(registered(pm, mine=Plugins()), defer_clashes=True), ["plugins"]
    )
    assert ran.exit_code == 0
    assert "mine\n  hooks: pld_register_commands\n  commands: plugins [CLASH]\n" in ran.stdout


# -- paths from the config -------------------------------------------------------------------


class EchoService(PredictService):
    """A predict service that passes records through."""

    def __init__(self, entry_point: str = "/predict"):
        self.entry_point = entry_point

    def model_input(self, model: Any, records: Any, query: Any) -> Any:
        return records, {}


class Counting:
    """Offers the echo service and counts model reads (a wrapper of ``pld_read_model``)."""

    reads: list[Any] = []

    @hookimpl(wrapper=True)
    def pld_read_model(self, persister: Any, version: Any) -> Any:
        Counting.reads.append(version)
        return (yield)

    @hookimpl
    def pld_register_predict_services(self, register: Any) -> None:
        register("echo", EchoService)


SERVICE_CONFIG = """{
    'model_persister': {'!': 'json', 'path': here + '/models.json'},
    'predict_service': {'!': 'echo', 'entry_point': '/predict'},
    'second_service': {'!': 'echo', 'entry_point': %r},
    'rules': [%s],
}"""


@pytest.mark.parametrize(
    ("entry_point", "rules", "taken_by"),
    [
        ("/alive", "", f"plugin '{STATUS}'"),
        ("/openapi.json", "", "plugin 'pld_core.default_plugins.openapi'"),
        ("/predict", "", "the predict service 'predict_service'"),
        ("/fit", "{'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit'}", "url-rule '/fit'"),
    ],
)
def test_a_predict_service_on_a_taken_path_is_a_config_error_before_any_model_is_read(
    pm, write_config, entry_point, rules, taken_by
):
    pm.register(Counting(), name="counting")
    Counting.reads.clear()
    path = write_config(SERVICE_CONFIG % (entry_point, rules))
    config = load_config(path, plugins=pm)
    with pytest.raises(ConfigError) as info:
        create_app(config)
    assert str(info.value) == (
        f"{path}: second_service: two endpoints want the path {entry_point!r}: {taken_by} and "
        "the predict service 'second_service'; give the service another entry_point"
    )
    assert Counting.reads == []
    app = create_app(load_config(write_config(SERVICE_CONFIG % ("/other", rules)), plugins=pm))
    assert Counting.reads == [None]
    assert {"/predict", "/other", "/alive"} <= set(app.endpoints)


def test_a_url_rule_on_a_core_path_names_the_rule(pm, write_config):
    pm.register(Counting(), name="counting")
    Counting.reads.clear()
    rule = "{'!': 'url-rule', 'rule': '/alive', 'view_func': 'fit', 'methods': ['POST']}"
    config = load_config(write_config(SERVICE_CONFIG % ("/other", rule)), plugins=pm)
    with pytest.raises(PluginConflictError) as info:
        create_app(config)
    assert str(info.value) == (
        f"route /alive is registered twice: by url-rule '/alive' (POST) and by plugin "
        f"'{STATUS}' (GET); one path has one owner"
    )
    assert Counting.reads == []
