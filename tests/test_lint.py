"""The repository passes its linters: ruff and the import-linter contracts (DESIGN §2).

Each test skips, naming the tool, when its executable is not installed; CI installs both.
"""

from __future__ import annotations

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


def test_import_contracts_are_kept() -> None:
    result = _run_tool("lint-imports")
    assert result.returncode == 0, result.stdout + result.stderr
