"""Deferred unpickling: inside ``deferred_unpickling`` a byte store checks a version and hands it
back unpickled only when something needs the Python object; ``pld_serve_stored`` may serve it
from its stored metadata alone."""

from __future__ import annotations

import base64
import logging
import pickle
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from pld_core import (
    DeferredModel,
    ModelIntegrityError,
    ModelSource,
    ModelStore,
    StoredModel,
    deferred_unpickling,
    hookimpl,
    load_config,
)

ONNX_LIKE = base64.b64encode(b"a compiled form").decode()


class MemoryStore(ModelStore):
    """Versions in a class-level dict per shelf, so a config entry reaches what a test wrote."""

    SHELVES: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, shelf: str = "default") -> None:
        self.name = shelf
        self.shelf = self.SHELVES.setdefault(shelf, {"versions": {}, "active": None})

    def write_bytes(self, prepare: Callable[[int], StoredModel]) -> int:
        version = len(self.shelf["versions"]) + 1
        self.shelf["versions"][version] = prepare(version)
        return version

    def read_bytes(self, version: int | None) -> StoredModel:
        version = version if version is not None else self.shelf["active"]
        if version not in self.shelf["versions"]:
            raise LookupError(f"no version {version}")
        stored: StoredModel = self.shelf["versions"][version]
        return stored

    def activate(self, version: int) -> None:
        self.shelf["active"] = version

    def delete(self, version: int) -> None:
        del self.shelf["versions"][version]

    def list_models(self) -> list[dict[str, Any]]:
        return [dict(stored.metadata) for stored in self.shelf["versions"].values()]

    def list_properties(self) -> dict[str, str]:
        return {"active-model": str(self.shelf["active"])}


class StorePlugin:
    @hookimpl
    def pld_register_persisters(self, register: Any) -> None:
        register("memory", MemoryStore)


class StandIn:
    """Predicts from the stored metadata; asks the Python model only for what it cannot do."""

    served_by = "stand-in"

    def __init__(self, model: DeferredModel) -> None:
        self.model = model
        self.__metadata__ = model.__metadata__

    def predict(self, X: Any) -> list[str]:
        return [self.__metadata__["answer"] for _ in X]


class ServesStored:
    def __init__(self) -> None:
        self.stored: list[Any] = []
        self.loaded: list[Any] = []

    @hookimpl
    def pld_serve_stored(self, model: Any, config: Any) -> Any:
        self.stored.append(model)
        return StandIn(model) if "answer" in model.__metadata__ else None

    @hookimpl
    def pld_serve_model(self, model: Any, config: Any) -> Any:
        self.loaded.append(model)
        return None


@pytest.fixture
def unpickled(monkeypatch):
    """Counts the models pld unpickles."""
    calls: list[int] = []
    original = pickle.load

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(pickle, "load", counting)
    return calls


@pytest.fixture
def store(request, monkeypatch):
    """A fresh shelf with one active version carrying an attachment."""
    monkeypatch.delenv("PLD_MODEL_SIGNING_KEY", raising=False)
    shelf = request.node.name
    MemoryStore.SHELVES.pop(shelf, None)
    store = MemoryStore(shelf)
    model = SimpleNamespace(threshold=5.0)
    model.__metadata__ = {"answer": "big", "attachments/compiled.bin": ONNX_LIKE}
    store.activate(store.write(model))
    return store


def test_outside_the_block_a_store_unpickles_as_always(store, unpickled):
    model = store.read()
    assert not isinstance(model, DeferredModel) and model.threshold == 5.0
    assert unpickled == [1]


def test_inside_the_block_a_checked_version_waits_until_it_is_needed(store, unpickled):
    with deferred_unpickling():
        model = store.read()
    assert isinstance(model, DeferredModel) and not model.is_loaded
    metadata = model.__metadata__
    assert metadata["version"] == 1 and metadata["digest"].startswith("sha256:")
    assert metadata["attachments/compiled.bin"] == ONNX_LIKE and metadata["answer"] == "big"
    assert unpickled == []  # checked, not unpickled
    assert model.threshold == 5.0  # any other attribute unpickles it
    python = model.load()
    assert model.is_loaded and python.threshold == 5.0 and unpickled == [1]
    assert python.__metadata__["version"] == 1 and "digest" in python.__metadata__
    assert model.load() is python and unpickled == [1]  # once
    assert "version 1, loaded" in repr(model)


def test_threads_unpickle_it_once(store, unpickled):
    with deferred_unpickling():
        model = store.read()
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(model.load())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unpickled == [1] and all(result is results[0] for result in results)


def test_corrupt_bytes_are_refused_when_read_not_when_needed(store, unpickled):
    stored = store.shelf["versions"][1]
    store.shelf["versions"][1] = StoredModel(1, stored.data[:-1] + b"x", stored.metadata)
    with deferred_unpickling(), pytest.raises(ModelIntegrityError, match="corrupt"):
        store.read()
    assert unpickled == []


def test_a_changed_attachment_is_refused_when_read(store):
    stored = store.shelf["versions"][1]
    changed = {**stored.metadata, "attachments/compiled.bin": base64.b64encode(b"evil").decode()}
    store.shelf["versions"][1] = StoredModel(1, stored.data, changed)
    with deferred_unpickling(), pytest.raises(ModelIntegrityError, match="compiled.bin"):
        store.read()


def _signed_store(request, monkeypatch) -> MemoryStore:
    monkeypatch.setenv("PLD_MODEL_SIGNING_KEY", "s3cret")
    MemoryStore.SHELVES.pop(request.node.name, None)
    store = MemoryStore(request.node.name)
    model = SimpleNamespace(threshold=1.0)
    model.__metadata__ = {"answer": "big", "attachments/compiled.bin": ONNX_LIKE}
    store.activate(store.write(model))
    return store


def test_a_signed_version_waits_too_its_metadata_signed_with_it(request, monkeypatch, unpickled):
    store = _signed_store(request, monkeypatch)
    assert store.shelf["versions"][1].metadata["metadata_signature"].startswith("pld-hmac-")
    with deferred_unpickling():
        read = store.read()
    assert isinstance(read, DeferredModel) and unpickled == []
    assert read.__metadata__["answer"] == "big" and read.load().threshold == 1.0


@pytest.mark.parametrize(
    "change",
    [
        {"answer": "small"},  # what a stand-in would serve
        {"attachments/compiled.bin": base64.b64encode(b"planted").decode()},
        {"metadata_signature": None},  # signed before pld signed metadata
    ],
    ids=["a value", "an attachment and nothing else", "no metadata signature"],
)
def test_signed_metadata_that_changed_is_not_trusted_the_model_is_unpickled(
    request, monkeypatch, unpickled, change
):
    store = _signed_store(request, monkeypatch)
    stored = store.shelf["versions"][1]
    metadata = {k: v for k, v in {**stored.metadata, **change}.items() if v is not None}
    store.shelf["versions"][1] = StoredModel(1, stored.data, metadata)
    with deferred_unpickling():
        if "attachments/compiled.bin" in change:  # the pickle's digest of it catches it
            with pytest.raises(ModelIntegrityError, match="compiled.bin"):
                store.read()
            return
        read = store.read()
    assert not isinstance(read, DeferredModel) and unpickled == [1]
    assert read.__metadata__["answer"] == "big"  # the pickle's own metadata, as signed


def test_pld_admin_sign_signs_the_metadata_too(request, monkeypatch, unpickled):
    monkeypatch.delenv("PLD_MODEL_SIGNING_KEY", raising=False)
    MemoryStore.SHELVES.pop(request.node.name, None)
    store = MemoryStore(request.node.name)
    model = SimpleNamespace(threshold=3.0)
    model.__metadata__ = {"answer": "big"}
    unsigned = store.write(model)
    monkeypatch.setenv("PLD_MODEL_SIGNING_KEY", "s3cret")
    signed = store.sign(unsigned)
    with deferred_unpickling():
        read = store.read(signed)
    assert isinstance(read, DeferredModel) and read.__metadata__["signed_from"] == unsigned
    assert unpickled == [] and read.load().threshold == 3.0


def _config(pm, write_config, shelf: str) -> Any:
    pm.register(StorePlugin(), name="memory-store")
    text = f"{{'model_persister': {{'!': 'memory', 'shelf': {shelf!r}}}}}"
    return load_config(write_config(text), plugins=pm)


def test_hook_pld_serve_stored(pm, write_config, store, unpickled):
    hooks = ServesStored()
    pm.register(hooks, name="serves-stored")
    config = _config(pm, write_config, store.name)
    with deferred_unpickling():
        source = ModelSource(config)
    served = source.get()
    assert isinstance(served, StandIn) and source.served_by() == "stand-in"
    assert served.predict([[1.0], [9.0]]) == ["big", "big"]
    assert len(hooks.stored) == 1 and isinstance(hooks.stored[0], DeferredModel)
    assert hooks.loaded == [] and unpickled == []  # never unpickled
    assert source.get() is served and len(hooks.stored) == 1  # decided once per model


def test_without_an_answer_the_model_is_unpickled_before_it_serves(
    pm, write_config, request, unpickled
):
    shelf = request.node.name
    MemoryStore.SHELVES.pop(shelf, None)
    store = MemoryStore(shelf)
    model = SimpleNamespace(threshold=2.0)
    model.__metadata__ = {}
    store.activate(store.write(model))
    hooks = ServesStored()
    pm.register(hooks, name="serves-stored")
    with deferred_unpickling():
        source = ModelSource(_config(pm, write_config, shelf))
    assert unpickled == [1]  # at load, not at the first prediction
    served = source.get()
    assert not isinstance(served, DeferredModel) and served.threshold == 2.0
    assert hooks.loaded == [served]  # pld_serve_model saw the Python model
    assert source.served_by() == "python"


def test_outside_the_block_pld_serve_stored_is_not_asked(pm, write_config, store, unpickled):
    hooks = ServesStored()
    pm.register(hooks, name="serves-stored")
    source = ModelSource(_config(pm, write_config, store.name))
    assert hooks.stored == [] and unpickled == [1]
    assert source.served_by() == "python"


def test_a_failing_implementation_is_logged_and_the_model_serves(pm, write_config, store, caplog):
    class Broken:
        @hookimpl
        def pld_serve_stored(self, model: Any, config: Any) -> Any:
            raise RuntimeError("no runtime here")

    pm.register(Broken(), name="broken")
    logs = caplog.at_level(logging.ERROR, logger="pld_core.model_source")
    with logs, deferred_unpickling():
        source = ModelSource(_config(pm, write_config, store.name))
    assert source.get().threshold == 5.0 and source.served_by() == "python"
    assert "pld_serve_stored failed" in caplog.text and "no runtime here" in caplog.text


def test_bytes_that_do_not_unpickle_leave_the_source_empty_with_the_reason(pm, write_config, store):
    stored = store.shelf["versions"][1]
    metadata = {k: v for k, v in stored.metadata.items() if k != "digest"}  # Palladium-like
    store.shelf["versions"][1] = StoredModel(1, b"not a gzip pickle", metadata)
    with deferred_unpickling():
        source = ModelSource(_config(pm, write_config, store.name))
    assert source.current() is None
    assert "BadGzipFile" in (source.problem() or "")
