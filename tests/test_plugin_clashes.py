"""Name clashes between installed plugins, through real entry points and the real ``pld``.

A tiny distribution (``pld-clash-demo``: a module and its ``.dist-info``) sits on
``PYTHONPATH`` of the child processes only, so nothing is installed into the shared
environment. Its plugins take ``pld list``, pld's ``/alive`` and one path twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(sys.executable).parent
STATUS = "pld_core.default_plugins.status"
STORE_ADMIN = "pld_core.default_plugins.store_admin"

MODULE = """
import click
from pld_core import hookimpl


@click.command("list")
def shadow_list():
    click.echo("the plugin's list")


def explain(request, app):
    return app.json({"explained": True})


class ListCommand:
    @hookimpl
    def pld_register_commands(self, register):
        register(shadow_list)


class AliveRoute:
    @hookimpl
    def pld_register_routes(self, register):
        register("/alive", explain, methods=["POST"])


class Explain:
    @hookimpl
    def pld_register_routes(self, register):
        register("/explain", explain)


list_command = ListCommand()
alive_route = AliveRoute()
explain_one = Explain()
explain_two = Explain()
"""
ENTRY_POINTS = {
    "pld_clash_list": "list_command",
    "pld_clash_alive": "alive_route",
    "pld_clash_explain": "explain_one",
    "pld_clash_explain_too": "explain_two",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding the demo distribution."""
    root = tmp_path_factory.mktemp("clash-demo")
    (root / "pld_clash_demo.py").write_text(MODULE)
    info = root / "pld_clash_demo-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pld-clash-demo\nVersion: 0.1.0\n")
    lines = [f"{name} = pld_clash_demo:{attr}" for name, attr in ENTRY_POINTS.items()]
    (info / "entry_points.txt").write_text("[pld]\n" + "\n".join(lines) + "\n")
    return root


def run(demo: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG", "PLD_DISABLE_PLUGINS", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(demo)
    env["PLD_LOAD_PLUGINS"] = ",".join(ENTRY_POINTS)
    env.update(env_extra)
    return subprocess.run(
        list(args), env=env, capture_output=True, text=True, timeout=120, cwd=demo
    )


FIRST = (
    "Error: command 'list' is registered twice: by plugin 'pld_clash_list' and by plugin "
    f"'{STORE_ADMIN}' (and 2 more name clashes); disable one of the plugins with "
    "PLD_DISABLE_PLUGINS"
)


@pytest.mark.parametrize("command", [["list"], ["serve", "--port", "0"], ["fit", "--debug"]])
def test_a_clash_stops_pld_commands_with_one_line_exit_2(demo, command):
    done = run(demo, str(SCRIPTS / "pld"), *command, PLD_CONFIG=str(demo / "absent.py"))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [FIRST]


def test_pld_plugins_runs_and_marks_the_clashes(demo):
    done = run(demo, str(SCRIPTS / "pld"), "plugins")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "  commands: admin, export, list [CLASH], upgrade\n" in text
    assert "  routes: /alive [CLASH], /list\n" in text
    for name, routes in [
        ("pld_clash_alive", "/alive"),
        ("pld_clash_explain", "/explain"),
        ("pld_clash_explain_too", "/explain"),
    ]:
        assert (
            f"{name} (pld-clash-demo 0.1.0)\n  hooks: pld_register_routes\n"
            f"  routes: {routes} [CLASH]\n"
        ) in text
    assert "pld_clash_list (pld-clash-demo 0.1.0)\n  hooks: pld_register_commands\n" in text
    assert "  commands: list [CLASH]\n" in text
    assert "\n3 name clashes; other commands stop" in text
    assert (
        "  route /alive is registered twice: by plugin 'pld_clash_alive' (POST) and by plugin "
        f"'{STATUS}' (GET); one path has one owner\n"
    ) in text
    assert (
        "  route GET /explain is registered twice: by plugin 'pld_clash_explain_too' and by "
        "plugin 'pld_clash_explain'\n"
    ) in text

    described = json.loads(run(demo, str(SCRIPTS / "pld"), "plugins", "--json").stdout)
    clashes = {plugin["name"]: plugin["clashes"] for plugin in described}
    assert [c["kind"] for c in clashes["pld_clash_list"]] == ["command"]
    assert clashes["pld_clash_explain"] == clashes["pld_clash_explain_too"]
    assert clashes["pld_clash_explain"][0]["plugins"] == [
        "pld_clash_explain_too",
        "pld_clash_explain",
    ]
    assert clashes["pld_core.default_plugins.serving"] == []


def test_disabling_one_plugin_of_each_pair_resolves_them(demo):
    disabled = "pld_clash_list,pld_clash_alive,pld_clash_explain_too"
    done = run(demo, str(SCRIPTS / "pld"), "plugins", PLD_DISABLE_PLUGINS=disabled)
    assert done.returncode == 0 and "[CLASH]" not in done.stdout
    assert "pld_clash_explain (pld-clash-demo 0.1.0)\n" in done.stdout
    listed = run(
        demo,
        str(SCRIPTS / "pld"),
        "list",
        PLD_DISABLE_PLUGINS=f"{STORE_ADMIN},pld_clash_alive,pld_clash_explain_too",
    )
    assert (listed.returncode, listed.stdout) == (0, "the plugin's list\n"), listed.stderr


def test_the_wsgi_app_fails_on_the_clash_before_reading_its_config(demo):
    done = run(
        demo,
        sys.executable,
        "-c",
        "import pld_core.wsgi",
        PLD_CONFIG=str(demo / "absent.py"),
    )
    assert done.returncode == 4  # gunicorn's "App failed to load": it stops, no restart loop
    assert done.stderr.splitlines() == ["pld: error: " + FIRST.removeprefix("Error: ")]
