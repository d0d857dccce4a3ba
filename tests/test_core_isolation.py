"""pld-core installs and runs on its own, without the data stack (ARCHITECTURE.md, "Layers").

A fresh virtual environment gets a regular (non-editable) install of ``./pld_core`` and nothing
else, so neither the editable installs of this checkout nor the packages of the test environment
can hide a missing dependency or an import of numpy, pandas, scikit-learn or SQLAlchemy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_STACK = ("numpy", "pandas", "sklearn", "sqlalchemy")

CHECK_IMPORTS = """\
import sys
import pld_core, pld_core.cli, pld_core.config
leaked = sorted(m for m in sys.argv[1:] if m in sys.modules)
assert not leaked, f"importing pld_core imported {leaked}"
"""

CHECK_INSTALLED = """\
import importlib.util, sys
print([m for m in sys.argv[1:] if importlib.util.find_spec(m) is not None])
"""


pytestmark = pytest.mark.slow


def _clean_env() -> dict[str, str]:
    """The current environment minus what could point Python or pld elsewhere."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"}
    return {
        key: value
        for key, value in os.environ.items()
        if key not in drop and not key.startswith(("PLD_", "PALLADIUM_"))
    }


def _bin(venv: Path, name: str) -> str:
    return str(venv / ("Scripts" if os.name == "nt" else "bin") / name)


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment holding a wheel install of ./pld_core and its dependencies only."""
    venv = tmp_path_factory.mktemp("core-only") / "venv"
    env = _clean_env()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    install = subprocess.run(
        [
            _bin(venv, "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(ROOT / "pld_core"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return venv


def _run(core_venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # cwd outside the checkout, so that the repository folders are not on sys.path.
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        env=_clean_env(),
        cwd=core_venv.parent,
        timeout=120,
    )


def test_pld_core_imports_without_the_data_stack(core_venv: Path) -> None:
    result = _run(core_venv, _bin(core_venv, "python"), "-c", CHECK_IMPORTS, *DATA_STACK)
    assert result.returncode == 0, result.stderr


def test_installing_pld_core_does_not_install_the_data_stack(core_venv: Path) -> None:
    result = _run(core_venv, _bin(core_venv, "python"), "-c", CHECK_INSTALLED, *DATA_STACK)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_pld_help_exits_0(core_venv: Path) -> None:
    result = _run(core_venv, _bin(core_venv, "pld"), "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_pld_plugins_json_works_with_the_core_alone(core_venv: Path) -> None:
    result = _run(core_venv, _bin(core_venv, "pld"), "plugins", "--json")
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)


def test_import_contracts_hold_with_the_core_alone(core_venv: Path) -> None:
    """The kernel's layers and the default plugins' public-API contract, pld-core alone."""
    install = _run(
        core_venv,
        _bin(core_venv, "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "import-linter",
    )
    assert install.returncode == 0, install.stdout + install.stderr
    config = str(ROOT / "pld_core" / "pyproject.toml")
    result = _run(core_venv, _bin(core_venv, "lint-imports"), config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" KEPT") == 4 and "BROKEN" not in result.stdout
