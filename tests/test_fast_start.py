"""Commands import only what they need: ``pld --help``, ``pld plugins``, ``pld version``,
``pld list`` and ``pld admin`` on a File store, and config errors never import the data stack
(numpy, pandas, scikit-learn, SciPy, SQLAlchemy, matplotlib), even with every plugin installed
and a scikit-learn model in the config.

What a run imported is read from ``sys.modules`` as the process exits, which does not depend
on how loaded the machine is (wall times do; bench/startup.py prints those).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA_STACK = ("numpy", "pandas", "sklearn", "scipy", "sqlalchemy", "matplotlib")
#: Runs pld's command line, then prints which data-stack modules the run imported.
PROBE = f"""import atexit, json, sys
atexit.register(lambda: print("IMPORTED=" + json.dumps(
    sorted(m for m in {DATA_STACK!r} if m in sys.modules)), file=sys.__stderr__))
from pld_core.cli import main
main(sys.argv[1:], prog_name="pld")
"""
FILE_STORE = """{
    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3},
    'model_persister': {'!': 'file', 'path': here + '/model-{version}'},
    'predict_service': {'!': 'predict-service', 'mapping': [('x', 'float')]},
}"""


def imported(tmp_path: Path, *args: str, config: str | None = None) -> tuple[int, list[str]]:
    """Exit status of ``pld *args`` and the data-stack modules it imported."""
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    if config is not None:
        path = tmp_path / "config.py"
        path.write_text(config)
        env["PLD_CONFIG"] = str(path)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("IMPORTED=")]
    assert lines, done.stderr
    return done.returncode, json.loads(lines[-1].removeprefix("IMPORTED="))


@pytest.mark.parametrize(
    ("args", "config", "status"),
    [
        (["--help"], None, 0),
        (["--version"], None, 0),
        (["plugins"], None, 0),
        (["version"], None, 0),
        (["fit", "--help"], None, 0),
        (["list"], FILE_STORE, 0),
        (["admin"], FILE_STORE, 2),  # usage
        (["admin", "activate", "7"], FILE_STORE, 1),  # no version 7: a failure, still light
        (["list"], None, 2),  # no configuration
        (["list"], "{'model': {'!': 'sklearn.linear_model.LogisticRegression',}", 2),
        (["list"], "{'a': {'x': {'__copy__': 'b'}}, 'b': {'y': {'__copy__': 'a'}}}", 2),
    ],
    ids=[
        "--help",
        "--version",
        "plugins",
        "version",
        "fit --help",
        "list on a File store",
        "admin",
        "admin activate on a File store",
        "no configuration",
        "syntax error",
        "copy loop",
    ],
)
def test_the_command_does_not_import_the_data_stack(tmp_path, args, config, status):
    code, modules = imported(tmp_path, *args, config=config)
    assert code == status
    assert modules == []


def test_the_probe_sees_the_data_stack_when_a_command_needs_it(tmp_path):
    """The control: a command that builds the model does import scikit-learn."""
    code, modules = imported(tmp_path, "fit", "--no-save", config=FILE_STORE)
    assert "sklearn" in modules  # fit fails without a dataset loader, after building the model
    assert code != 0
