"""The ``pld`` command line, in-process, with the toy plugin: outputs and exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pld_core import make_cli

TOY_CONFIG = """{
    'dataset_loader_train': {'!': 'list-loader', 'rows': 40},
    'dataset_loader_test': {'__copy__': 'dataset_loader_train', 'offset': 3},
    'model': {'!': 'threshold', 'threshold': 5.0},
    'model_persister': {'!': 'json', 'path': here + '/models.json'},
}"""


@pytest.fixture
def run(pm, write_config):
    config_path = write_config(TOY_CONFIG)

    def invoke(*args: str, config: str | None = config_path):
        runner = CliRunner()
        prefix = ["--config", config] if config else []
        return runner.invoke(make_cli(pm), [*prefix, *args], catch_exceptions=False)

    return invoke


def test_fit_test_list_activate_delete_round_trip(run):
    first = run("fit")
    assert first.exit_code == 0, first.output
    assert "Wrote model with version 1." in first.stdout
    assert "Activated model with version 1." in first.stdout
    assert "Wrote model with version 2." in run("fit").stdout

    tested = run("test")
    assert tested.exit_code == 0
    assert "Model version 2:" in tested.stdout and "score: 1.000000" in tested.stdout
    assert "Model version 1:" in run("test", "--model-version", "1").stdout

    listing = run("list").stdout.splitlines()
    assert listing[0].split() == ["version", "created", "score_train", "score_test", "model"]
    assert listing[1].split()[0] == "1" and listing[2].split()[:2] == ["*", "2"]

    assert run("admin", "activate", "1").exit_code == 0
    as_json = json.loads(run("list", "--json").stdout)
    assert as_json["properties"]["active-model"] == "1"
    assert [m["version"] for m in as_json["models"]] == [1, 2]

    assert "Deleted model with version 2." in run("admin", "delete", "2").stdout
    assert "Wrote model with version 3." in run("fit").stdout


def test_fit_options(run):
    no_save = run("fit", "--no-save", "--evaluate")
    assert no_save.exit_code == 0
    assert "train_score: 1.000000" in no_save.stdout and "test_score: 1.000000" in no_save.stdout
    assert "Wrote model" not in no_save.stdout

    inactive = run("fit", "--no-activate")
    assert "Wrote model with version 1." in inactive.stdout
    assert "Activated" not in inactive.stdout
    assert "active-model" not in json.loads(run("list", "--json").stdout)["properties"]

    skipped = run("fit", "--save-if-better-than", "1.5")
    assert "Not persisting: test score 1.0000 < 1.5." in skipped.stdout
    saved = run("fit", "--save-if-better-than", "1.0")  # equal is good enough
    assert "Wrote model with version 2." in saved.stdout

    models = json.loads(run("list", "--json").stdout)["models"]
    assert models[1]["score_test"] == 1.0 and models[1]["score_train"] == 1.0
    assert models[1]["params"] == {"threshold": 5.0}
    assert {"python", "pld-core"} <= set(models[1]["versions"])
    assert models[1]["model_class"].endswith("ThresholdModel")


def test_errors_are_one_line_with_exit_status(run, write_config, tmp_path):
    missing = run("fit", config=str(tmp_path / "nope.py"))
    assert missing.exit_code == 2
    assert missing.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'nope.py'}: config file not found"
    ]
    assert "Traceback" not in missing.output

    no_version = run("admin", "activate", "7")
    assert no_version.exit_code == 1
    assert no_version.stderr.strip() == "Error: No such version: 7"

    no_model = run("test")
    assert no_model.exit_code == 1 and no_model.stderr.strip() == "Error: No active model"

    no_entry = run("fit", config=write_config("{'model': {'!': 'threshold'}}", "bare.py"))
    assert no_entry.exit_code == 2
    assert "has no 'model_persister' entry" in no_entry.stderr

    usage = run("admin", "activate", "not-a-number")
    assert usage.exit_code == 2


def test_no_config_at_all(pm, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(make_cli(pm), ["list"])
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "Error: no configuration given: set PLD_CONFIG or pass --config FILE (also read: "
        "$PALLADIUM_CONFIG, then the first of pld-config.py, etc/pld-config.py, "
        "palladium-config.py, etc/palladium-config.py in this folder)"
    )


def test_debug_shows_the_traceback(run):
    with pytest.raises(LookupError, match="No such version: 9"):
        run("--debug", "admin", "activate", "9")


def test_config_option_is_accepted_after_the_command_too(pm, write_config):
    path = write_config(TOY_CONFIG)
    result = CliRunner().invoke(make_cli(pm), ["fit", "--config", path])
    assert result.exit_code == 0 and "Wrote model with version 1." in result.stdout


def test_palladium_config_variable(pm, write_config, monkeypatch):
    monkeypatch.setenv("PALLADIUM_CONFIG", write_config(TOY_CONFIG))
    result = CliRunner().invoke(make_cli(pm), ["fit"])
    assert "Wrote model with version 1." in result.stdout


def test_version_and_plugins(pm):
    from pld_core import __version__

    runner = CliRunner()
    assert runner.invoke(make_cli(pm), ["version"]).stdout.strip() == __version__
    described = json.loads(runner.invoke(make_cli(pm), ["plugins", "--json"]).stdout)
    by_name = {plugin["name"]: plugin for plugin in described}
    assert by_name["toy"]["components"] == [
        "json",
        "list-loader",
        "palladium.dataset.ListLoader",
        "threshold",
    ]
    assert "pld_register_persisters" in by_name["toy"]["hooks"]
    assert by_name["pld_core.hook_defaults"]["version"] == __version__
    text = runner.invoke(make_cli(pm), ["plugins"]).stdout
    assert "toy\n  hooks: pld_register_dataset_loaders" in text


def test_hook_pld_register_commands(pm):
    import click

    from pld_core import hookimpl

    class CommandPlugin:
        @hookimpl
        def pld_register_commands(self, cli):
            @cli.command()
            def hello():
                click.echo("hello from a plugin")

    pm.register(CommandPlugin(), name="commands")
    result = CliRunner().invoke(make_cli(pm), ["hello"])
    assert result.stdout == "hello from a plugin\n"


def test_plugin_commands_get_the_config_and_errors_of_the_group(pm, write_config):
    import click

    from pld_core import command_config, common_options, hookimpl

    class Counting:
        @hookimpl
        def pld_register_commands(self, cli):
            @cli.command("count-rows")
            @common_options
            def count_rows():
                config = command_config()
                X, _y = config["dataset_loader_train"]()
                click.echo(f"{len(X)} rows, mode {config.mode}")

    pm.register(Counting(), name="counting")
    path = write_config(TOY_CONFIG)
    runner = CliRunner()
    assert runner.invoke(make_cli(pm), ["--config", path, "count-rows"]).stdout == (
        "40 rows, mode fit\n"
    )
    assert runner.invoke(make_cli(pm), ["count-rows", "-c", path]).stdout == "40 rows, mode fit\n"
    missing = runner.invoke(make_cli(pm), ["count-rows", "-c", path + ".nope"])
    assert missing.exit_code == 2 and "config file not found" in missing.stderr
