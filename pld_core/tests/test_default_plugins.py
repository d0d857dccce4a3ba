"""pld's own features are default plugins: listed by ``pld plugins``, each switched off by
``PLD_DISABLE_PLUGINS`` like any installed plugin — and then its commands, tasks, routes,
views and components are gone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from pld_core import (
    DEFAULT_PLUGINS,
    ConfigError,
    create_app,
    get_plugin_manager,
    load_config,
    make_cli,
)

TOY_CONFIG = """{
    'dataset_loader_train': {'!': 'list-loader'},
    'dataset_loader_test': {'!': 'list-loader', 'offset': 2},
    'model': {'!': 'threshold'},
    'model_persister': {'!': 'json', 'path': here + '/models.json'},
    %s
}"""

#: What each default plugin adds, by kind.
EXPECTED = {
    "training": {"tasks": ["fit", "rollback", "test"]},
    "tasks": {"routes": ["/jobs/<job_id>"]},
    "store_admin": {"commands": ["admin", "export", "list", "upgrade"]},
    "serving": {"commands": ["devserver", "serve"]},
    "stream": {"commands": ["stream"]},
    "batch": {"commands": ["predict"]},
    "status": {"routes": ["/alive", "/list"]},
    "endpoints": {
        "components": ["palladium.server.add_url_rule", "url-rule"],
        "views": ["activate", "update-model-cache"],
    },
    "openapi": {"routes": ["/openapi.json"]},
    "page": {"routes": ["/"]},
    "palladium": {"components": ["palladium.util.Partial", "partial"]},
    "info": {"commands": ["plugins", "version"]},
}
KINDS = ("components", "commands", "tasks", "routes", "views")


def test_pld_plugins_lists_every_default_plugin_with_what_it_adds(pm):
    result = CliRunner().invoke(make_cli(pm), ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    described = {plugin["name"]: plugin for plugin in json.loads(result.stdout)}
    assert [name for name in described if described[name]["default"]] == [
        "pld_core.hook_defaults",
        *DEFAULT_PLUGINS,
    ]
    for short, kinds in EXPECTED.items():
        plugin = described[f"pld_core.default_plugins.{short}"]
        assert plugin["distribution"] == "pld-core"
        assert {kind: plugin[kind] for kind in KINDS if plugin[kind]} == kinds, short
    assert described["toy"]["default"] is False

    text = CliRunner().invoke(make_cli(pm), ["plugins"]).stdout
    assert "pld_core.default_plugins.store_admin (pld-core " in text
    assert "  commands: admin, export, list, upgrade\n" in text
    assert "  routes: /alive, /list\n" in text
    assert "  tasks: fit, rollback, test\n" in text


@pytest.fixture
def without(pm, monkeypatch, write_config):
    """``without(plugin, extra_config)``: a plugin manager built with ``PLD_DISABLE_PLUGINS``
    naming the default plugin, and a toy config with ``extra_config`` entries."""
    toy = pm.get_plugin("toy")

    def build(short: str, extra: str = "") -> tuple[Any, str]:
        monkeypatch.setenv("PLD_DISABLE_PLUGINS", f"pld_core.default_plugins.{short}")
        disabled = get_plugin_manager(load_entrypoints=False)
        disabled.register(toy, name="toy")
        return disabled, write_config(TOY_CONFIG % extra)

    return build


def test_a_disabled_plugins_commands_are_gone(without):
    disabled, _path = without("stream")
    cli = make_cli(disabled)
    assert "stream" not in cli.commands and "predict" in cli.commands
    result = CliRunner().invoke(cli, ["stream"])
    assert result.exit_code == 2 and "No such command 'stream'" in result.stderr


def test_a_disabled_plugins_tasks_are_gone_from_the_cli_and_http(without):
    rule = "'rules': [{'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit'}],"
    disabled, path = without("training", rule)
    cli = make_cli(disabled)
    assert "fit" not in cli.commands and "test" not in cli.commands and "list" in cli.commands
    with pytest.raises(ConfigError, match="no view or task named 'fit' \\(tasks: none;"):
        create_app(load_config(path, plugins=disabled))


def test_a_disabled_plugins_routes_are_gone(without):
    disabled, path = without("status")
    client = Client(create_app(load_config(path, plugins=disabled)))
    missing = client.get("/alive")
    assert missing.status_code == 404 and missing.mimetype == "application/json"
    assert missing.json["metadata"]["status"] == "ERROR"
    paths = set(client.get("/openapi.json").json["paths"])
    assert paths == {"/", "/jobs/{job_id}", "/openapi.json"}


def test_a_disabled_plugins_views_cannot_be_mounted(without):
    rule = "'rules': [{'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit'}],"
    disabled, path = without("tasks", rule)
    expected = "no view or task named 'fit' \\(tasks: 'fit', 'rollback', 'test';"
    with pytest.raises(ConfigError, match=expected):
        create_app(load_config(path, plugins=disabled))


def test_a_disabled_plugins_components_are_unknown(without):
    rule = "'rules': [{'!': 'url-rule', 'rule': '/activate', 'view_func': 'activate'}],"
    disabled, path = without("endpoints", rule)
    with pytest.raises(ConfigError, match="unknown factory 'url-rule'"):
        load_config(path, plugins=disabled)


def test_disabling_the_tasks_plugin_keeps_the_tasks_but_not_their_doors(without):
    disabled, _path = without("tasks")
    cli = make_cli(disabled)
    assert "fit" not in cli.commands and "list" in cli.commands
    listed = json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).stdout)
    described = {plugin["name"]: plugin for plugin in listed}
    assert described["pld_core.default_plugins.training"]["tasks"] == ["fit", "rollback", "test"]


def test_the_hook_defaults_cannot_be_disabled(monkeypatch):
    monkeypatch.setenv("PLD_DISABLE_PLUGINS", "pld_core.hook_defaults")
    assert get_plugin_manager(load_entrypoints=False).has_plugin("pld_core.hook_defaults")
