"""One visible name per idea on the command line, older spellings hidden but accepted, and a
command's result printed once: on stdout, never again as a log line on stderr."""

from __future__ import annotations

import logging

import click
import pytest
from click.testing import CliRunner

from pld_core import make_cli
from pld_core.converters import VERSION

TOY_CONFIG = """{
    'dataset_loader_train': {'!': 'list-loader', 'rows': 40},
    'dataset_loader_test': {'__copy__': 'dataset_loader_train', 'offset': 3},
    'model': {'!': 'threshold', 'threshold': 5.0},
    'model_persister': {'!': 'json', 'path': here + '/models.json'},
    'model_persister_export': {'!': 'json', 'path': here + '/exported.json'},
}"""


@pytest.fixture
def run(pm, write_config):
    config_path = write_config(TOY_CONFIG)

    def invoke(*args: str):
        return CliRunner().invoke(make_cli(pm), ["--config", config_path, *args])

    return invoke


def _commands(group: click.Group, prefix: str = "pld") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        found[f"{prefix} {name}"] = command
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix} {name}"))
    return found


def test_each_visible_option_has_one_long_name_and_versions_are_model_version(pm):
    commands = _commands(make_cli(pm))
    assert {"pld fit", "pld test", "pld export", "pld predict"} <= set(commands)
    for where, command in commands.items():
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            longs = [o for o in param.opts if o.startswith("--")]
            assert len(longs) == 1, f"{where}: {param.opts} are two names for one option"
            if param.type is VERSION:  # a stored model's version, in every command alike
                assert longs == ["--model-version"], f"{where}: {longs}"


def test_hidden_spellings_are_accepted_but_not_shown(run):
    fit_help = run("fit", "--help").stdout
    assert "--save-if-better-than SCORE" in fit_help  # Palladium's pld-fit spelling
    assert "--persist-if-better-than" not in fit_help
    skipped = run("fit", "--persist-if-better-than", "1.5")
    assert skipped.exit_code == 0, skipped.output
    assert "Not persisting: test score 1.0000 < 1.5." in skipped.stdout
    assert "Wrote model with version 1." in run("fit", "--persist-if-better-than", "1.0").stdout
    assert "Wrote model with version 2." in run("fit").stdout

    export_help = run("export", "--help").stdout
    assert "--model-version VERSION" in export_help and "--version" not in export_help
    assert "Exported model version 1 as" in run("export", "--model-version", "1").stdout
    assert "Exported model version 2 as" in run("export", "--version", "2").stdout


def test_admin_results_are_printed_once(run, caplog):
    for _ in range(3):
        assert run("fit").exit_code == 0
    caplog.set_level(logging.DEBUG)
    expected = {
        ("admin", "activate", "1"): "Activated model with version 1.\n",
        ("admin", "delete", "2"): "Deleted model with version 2.\n",
    }
    for args, line in expected.items():
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert result.stdout == line
        assert result.stderr == ""
    logged = [r.getMessage() for r in caplog.records]
    assert not [m for m in logged if "Activated model" in m or "Deleted model" in m], logged
