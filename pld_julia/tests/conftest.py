"""Fixtures for pld-julia's tests: the juliacall test double, and no juliacall at all."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pld_julia import bridge

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLE = REPO / "examples" / "julia"
FAKE_JULIACALL = HERE / "fake_juliacall.py"


def load_fake_juliacall() -> ModuleType:
    """A fresh copy of the test double (its recorded calls start empty)."""
    spec = importlib.util.spec_from_file_location("juliacall", FAKE_JULIACALL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_julia(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The juliacall TEST DOUBLE installed as ``sys.modules['juliacall']``, with a new session."""
    fake = load_fake_juliacall()
    monkeypatch.setitem(sys.modules, "juliacall", fake)
    monkeypatch.setattr(bridge, "_SESSION", None)
    return fake


@pytest.fixture
def no_juliacall(monkeypatch: pytest.MonkeyPatch) -> None:
    """juliacall cannot be imported, as when it is not installed."""
    monkeypatch.setitem(sys.modules, "juliacall", None)
    monkeypatch.setattr(bridge, "_SESSION", None)


@pytest.fixture
def centroid_file() -> Path:
    """The example's nearest-centroid classifier in plain Julia."""
    return EXAMPLE / "nearest_centroid.jl"


@pytest.fixture
def iris() -> tuple[object, object]:
    """The iris features (150 x 4, float) and species names."""
    import numpy as np

    rows = [line.split(",") for line in (EXAMPLE / "iris.data").read_text().split()]
    X = np.array([[float(v) for v in row[:4]] for row in rows])
    y = np.array([row[4] for row in rows])
    return X, y
