"""The documentation builds with mkdocs in strict mode: warnings (a broken link, a docstring
mkdocstrings cannot read) fail, and the API reference covers what plugin authors use."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None
    or importlib.util.find_spec("mkdocstrings_handlers.python") is None,
    reason="mkdocs and mkdocstrings[python] are not installed (.ci/run installs them)",
)


def test_docs_build_strictly_with_the_api_reference(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    core = (site / "api" / "pld_core" / "index.html").read_text()
    for name in ("ModelStore.write_bytes", "ModelStore.read_bytes", "StoredModel", "annotate"):
        assert f'id="pld_core.{name}"' in core, name
    testing = (site / "api" / "testing" / "index.html").read_text()
    assert 'id="pld_core.testing.PersisterContract"' in testing
    guide = (site / "writing-a-plugin" / "index.html").read_text()
    assert "What pld guarantees" in guide
