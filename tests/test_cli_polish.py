"""The command line as a newcomer meets it: every Palladium-named script's usage line can be
followed, ``pld --version``, one ``serve`` (``devserver`` a hidden alias), whole summaries in
``pld --help``, and the dev server's log in colour only on a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from pld_core import __version__
from pld_core.testing import free_port, http_json

SCRIPTS = Path(sys.executable).parent
PLD_SCRIPTS = sorted(
    ep.name
    for ep in metadata.entry_points(group="console_scripts")
    if ep.name.startswith("pld-") and ep.dist is not None and ep.dist.name.startswith("pld-")
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    return subprocess.run(
        list(command), capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_the_palladium_scripts_are_installed():
    expected = {"pld-fit", "pld-test", "pld-list", "pld-admin", "pld-version", "pld-devserver"}
    assert expected | {"pld-stream", "pld-upgrade", "pld-export", "pld-grid-search"} <= set(
        PLD_SCRIPTS
    )


@pytest.mark.parametrize("script", PLD_SCRIPTS)
def test_a_scripts_usage_line_names_the_script_alone_and_can_be_followed(script):
    helped = run(str(SCRIPTS / script), "--help")
    assert helped.returncode == 0, helped.stderr
    usage = helped.stdout.splitlines()[0]
    assert re.fullmatch(rf"Usage: {script} \[OPTIONS\]( .*)?", usage), usage
    wrong = run(str(SCRIPTS / script), "--no-such-option")
    assert wrong.returncode == 2
    assert f"Try '{script} --help' for help." in wrong.stderr
    followed = run(*usage.removeprefix("Usage: ").split()[:1], "--help")  # as printed
    assert followed.returncode == 0 and followed.stdout == helped.stdout


def test_pld_version_option_and_command_agree():
    option = run(str(SCRIPTS / "pld"), "--version")
    assert option.returncode == 0
    assert option.stdout == f"pld {__version__}\n"
    assert run(str(SCRIPTS / "pld"), "version").stdout == f"{__version__}\n"


def commands_section(text: str) -> dict[str, str]:
    """``pld --help``'s commands and their summaries (wrapped lines joined)."""
    section = text.split("Commands:\n", 1)[1]
    summaries: dict[str, str] = {}
    name = ""
    for line in section.splitlines():
        match = re.match(r"  (\S+)\s+(.*)", line)
        if match and not line.startswith("   "):
            name = match.group(1)
            summaries[name] = match.group(2)
        elif line.strip() and name:
            summaries[name] += " " + line.strip()
    return summaries


def test_pld_help_lists_serve_once_and_whole_summaries():
    helped = run(str(SCRIPTS / "pld"), "--help")
    summaries = commands_section(helped.stdout)
    assert "serve" in summaries and "devserver" not in summaries
    assert summaries["serve"] == (
        "Serve the predict service(s) over HTTP with Werkzeug's development server."
    )
    for name, summary in summaries.items():
        assert not summary.endswith("..."), (name, summary)
        assert summary.endswith("."), (name, summary)  # a whole sentence
    alias = run(str(SCRIPTS / "pld"), "devserver", "--help")  # Palladium's name still works
    assert alias.returncode == 0 and alias.stdout.startswith("Usage: pld devserver [OPTIONS]")


@pytest.fixture
def store_config(tmp_path: Path) -> Path:
    config = tmp_path / "config.py"
    config.write_text("{'model_persister': {'!': 'file', 'path': here + '/model-{version}'}}")
    return config


def serve_log(config: Path, stderr: int, read_from: int | None, log_file: Path | None) -> str:
    """Start ``pld serve``, make one request, stop it; return what it logged."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PALLADIUM_CONFIG", "NO_COLOR")}
    env["PLD_CONFIG"] = str(config)
    command = [str(SCRIPTS / "pld"), "serve", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=config.parent, env=env, stdout=subprocess.DEVNULL, stderr=stderr
    )
    chunks: list[bytes] = []
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "pld serve exited"
            try:
                http_json(f"http://127.0.0.1:{port}/alive")
                break
            except OSError:
                assert time.monotonic() < deadline, "pld serve did not answer"
                time.sleep(0.1)
        status, _ = http_json(f"http://127.0.0.1:{port}/no-such-path")
        assert status == 404  # Werkzeug logs a 404 in yellow on a terminal
        time.sleep(0.3)
        if read_from is not None:
            while select.select([read_from], [], [], 0.5)[0]:
                chunks.append(os.read(read_from, 65536))
    finally:
        process.terminate()
        process.wait(timeout=30)
    if log_file is not None:
        return log_file.read_text()
    return b"".join(chunks).decode(errors="replace")


def test_the_dev_server_log_has_no_colour_codes_in_a_file(store_config, tmp_path):
    log_file = tmp_path / "serve.log"
    with log_file.open("wb") as handle:
        log = serve_log(store_config, handle.fileno(), None, log_file)
    assert "GET /no-such-path" in log and "development server" in log
    assert not ANSI.search(log), log


def test_the_dev_server_log_is_coloured_on_a_terminal(store_config):
    master, terminal = pty.openpty()
    try:
        log = serve_log(store_config, terminal, master, None)
    finally:
        os.close(terminal)
        os.close(master)
    assert "GET /no-such-path" in log
    assert ANSI.search(log), log
