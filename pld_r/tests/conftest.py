"""pld-r's tests run against real R: skipped (naming what is missing) only outside CI."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parent / "r"


def _missing() -> str | None:
    if shutil.which("R") is None:
        return "R is not installed (apt-get install r-base-core r-cran-randomforest)"
    if importlib.util.find_spec("rpy2") is None:
        return "rpy2 is not installed (pip install rpy2==3.5.17)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = _missing()
    if missing is None or os.environ.get("CI"):  # CI installs both: there, a gap must fail
        return
    for item in items:
        if item.get_closest_marker("r") is not None:
            item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture
def script() -> str:
    """The unit tests' R script, by absolute path."""
    return str(SCRIPTS / "models.R")


@pytest.fixture
def broken_script() -> str:
    """An R script with a syntax error."""
    return str(SCRIPTS / "syntax_error.R")
