"""The repository passes its linters: ruff (check and format) and the import-linter contracts.

Each distribution keeps its import contracts in its own pyproject.toml, so they hold for any
subset of installed distributions; every installed one is checked here. Each test skips, naming
the tool or distribution, when it is not installed; CI installs all of them.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which(command[0])
    if executable is None:
        pytest.skip(f"{command[0]} is not installed")
    return subprocess.run(
        [executable, *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_check_passes() -> None:
    result = _run_tool("ruff", "check", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _run_tool("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dist", ["pld_core", "pld_plugins", "pld_r", "pld_julia"])
def test_import_contracts_are_kept(dist: str) -> None:
    if importlib.util.find_spec(dist) is None:
        pytest.skip(f"{dist} is not installed")
    result = _run_tool("lint-imports", f"{dist}/pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and " KEPT" in result.stdout
