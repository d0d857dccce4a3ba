"""The ``palladium`` package keeps its import contract (pld_palladium/pyproject.toml): only
pld_core's public API, like every plugin distribution."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_palladium_uses_only_the_public_api() -> None:
    executable = shutil.which("lint-imports")
    if executable is None:
        pytest.skip("lint-imports (import-linter) is not installed")
    result = subprocess.run(
        [executable, "pld_palladium/pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and " KEPT" in result.stdout
