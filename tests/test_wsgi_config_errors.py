"""A broken config under plain gunicorn (``gunicorn pld_core.wsgi:app``): one log line naming
the file and the key, no traceback, and gunicorn stops with a non-zero status instead of
restarting workers that cannot boot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pld_core.testing import free_port

GUNICORN = Path(sys.executable).parent / "gunicorn"

pytestmark = pytest.mark.skipif(
    not GUNICORN.exists() and not shutil.which("gunicorn"),
    reason="gunicorn is not installed (pip install 'pld-plugins[serve]')",
)


def run_gunicorn(config: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PALLADIUM_CONFIG", "PLD_DEBUG")}
    env["PLD_CONFIG"] = str(config)
    command = [str(GUNICORN) if GUNICORN.exists() else "gunicorn", "--workers", "2"]
    command += ["--bind", f"127.0.0.1:{free_port()}", *options, "pld_core.wsgi:app"]
    return subprocess.run(
        command, cwd=config.parent, env=env, capture_output=True, text=True, timeout=120
    )


BROKEN = {
    "syntax": (
        "{'model': {'!': 'sklearn.linear_model.LogisticRegression',}\n",
        "line 1: syntax error: '{' was never closed",
    ),
    "no persister": (
        "{'service_metadata': {'service_name': 'iris'}}",
        "the configuration has no 'model_persister' entry; the server reads the model to serve "
        "from it",
    ),
    "copy loop": (
        "{'a': {'x': {'__copy__': 'b'}}, 'b': {'y': {'__copy__': 'a'}}}",
        "b.y: __copy__ of 'a' loops",
    ),
    "unknown factory": (
        "{'model_persister': {'!': 'no-such-store'}}",
        "model_persister: unknown factory 'no-such-store'",
    ),
}


@pytest.mark.parametrize("preload", [False, True], ids=["workers", "preload"])
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_config_error_is_one_log_line_and_gunicorn_exits_non_zero(tmp_path, case, preload):
    text, message = BROKEN[case]
    config = tmp_path / "config.py"
    config.write_text(text)
    done = run_gunicorn(config, *(["--preload"] if preload else []))
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("pld: error: ")]
    assert len(errors) == 1, done.stderr  # one line, not one per worker
    assert errors[0].startswith(f"pld: error: {config}: ") and message in errors[0], errors
    if preload:  # the master loads the app, and stops with its status
        assert done.returncode == 4
    else:  # gunicorn stops on a worker's status 4; it does not restart workers
        assert "App failed to load" in done.stderr
