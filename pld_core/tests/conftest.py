"""Fixtures for pld-core's own tests: a fresh plugin manager with a small toy plugin.

The toy components need nothing but the standard library, so these tests run where only
pld-core is installed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pld_core import DatasetLoader, ModelPersister, annotate, get_plugin_manager, hookimpl


class ListLoader(DatasetLoader):
    """Rows of numbers with a label that is 'big' when the first value is over 5."""

    def __init__(self, rows: int = 20, offset: int = 0):
        self.rows = rows
        self.offset = offset

    def __call__(self) -> tuple[list[list[float]], list[str]]:
        X = [[float((i + self.offset) % 10)] for i in range(self.rows)]
        return X, ["big" if x[0] > 5 else "small" for x in X]


class ThresholdModel:
    """Predicts 'big' above a threshold; its score is accuracy."""

    def __init__(self, threshold: float = 5.0):
        self.threshold = threshold

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"threshold": self.threshold}

    def fit(self, X: Any, y: Any) -> ThresholdModel:
        self.classes_ = sorted(Counter(y))
        return self

    def predict(self, X: Any) -> list[str]:
        return ["big" if row[0] > self.threshold else "small" for row in X]

    def score(self, X: Any, y: Any) -> float:
        return sum(p == t for p, t in zip(self.predict(X), y, strict=True)) / len(y)


class JsonPersister(ModelPersister):
    """Keeps models as JSON (threshold + metadata) in one file: enough for CLI round trips."""

    def __init__(self, path: str):
        self.path = Path(path)

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"models": {}, "properties": {}, "last": 0}
        return json.loads(self.path.read_text())

    def _save(self, data: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(data))

    def read(self, version: int | None = None) -> Any:
        data = self._load()
        if version is None:
            if "active-model" not in data["properties"]:
                raise LookupError("No active model")
            version = int(data["properties"]["active-model"])
        if str(version) not in data["models"]:
            raise LookupError(f"No such version: {version}")
        stored = data["models"][str(version)]
        model = ThresholdModel(stored["threshold"])
        annotate(model, stored["metadata"])
        return model

    def write(self, model: Any) -> int:
        data = self._load()
        data["last"] += 1
        version = data["last"]
        metadata = annotate(model, {"version": version})
        data["models"][str(version)] = {"threshold": model.threshold, "metadata": metadata}
        self._save(data)
        return version

    def activate(self, version: int) -> None:
        data = self._load()
        if str(version) not in data["models"]:
            raise LookupError(f"No such version: {version}")
        data["properties"]["active-model"] = str(version)
        self._save(data)

    def delete(self, version: int) -> None:
        data = self._load()
        if data["models"].pop(str(version), None) is None:
            raise LookupError(f"No such version: {version}")
        if data["properties"].get("active-model") == str(version):
            del data["properties"]["active-model"]
        self._save(data)

    def list_models(self) -> list[dict[str, Any]]:
        models = self._load()["models"]
        return [models[k]["metadata"] for k in sorted(models, key=int)]

    def list_properties(self) -> dict[str, str]:
        return dict(self._load()["properties"])


class ToyPlugin:
    """Registers the toy components under short names and one Palladium-style alias."""

    __name__ = "toy"

    @hookimpl
    def pld_register_dataset_loaders(self, register: Any) -> None:
        register("list-loader", ListLoader, aliases=["palladium.dataset.ListLoader"])

    @hookimpl
    def pld_register_models(self, register: Any) -> None:
        register("threshold", ThresholdModel)

    @hookimpl
    def pld_register_persisters(self, register: Any) -> None:
        register("json", JsonPersister)


@pytest.fixture
def pm(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh plugin manager with the core defaults and the toy plugin, no entry points."""
    monkeypatch.delenv("PLD_CONFIG", raising=False)
    monkeypatch.delenv("PALLADIUM_CONFIG", raising=False)
    manager = get_plugin_manager(load_entrypoints=False)
    manager.register(ToyPlugin(), name="toy")
    return manager


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config file (text) into tmp_path and return its path as a string."""

    def write(text: str, name: str = "config.py") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


@pytest.fixture(autouse=True)
def _forget_process_config():
    """Each test starts and ends without a process-wide config."""
    from pld_core import use_config

    use_config(None)
    yield
    use_config(None)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def env_without_config() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
