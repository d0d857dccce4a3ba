"""The ``pld_serve_model`` hook: once per model, a plugin may name what predicts in its place."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pld_core import ConfigError, ModelSource, fit, hookimpl, load_config

TOY_CONFIG = """{
    'dataset_loader_train': {'!': 'list-loader'},
    'model': {'!': 'threshold'},
    'model_persister': {'!': 'json', 'path': here + '/models.json'},
}"""


class Loud:
    """Answers as the model does, in capitals."""

    served_by = "loud"

    def __init__(self, model: Any) -> None:
        self.model = model
        self.__metadata__ = model.__metadata__

    def predict(self, X: Any) -> list[str]:
        return [label.upper() for label in self.model.predict(X)]


class Shouter:
    """Serves every model loudly; counts the calls."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    @hookimpl
    def pld_serve_model(self, model: Any, config: Any) -> Any:
        self.calls.append((model.__metadata__["version"], config))
        return Loud(model)


@pytest.fixture
def stored(pm, write_config):
    """A config with two stored versions, the second active."""
    config = load_config(write_config(TOY_CONFIG), plugins=pm, __mode__="fit")
    fit(config)
    fit(config)
    return config


def test_hook_pld_serve_model(pm, stored):
    shouter = Shouter()
    pm.register(shouter, name="shouter")
    source = ModelSource(stored)
    assert shouter.calls == [(2, stored)]  # once, when the model was read
    served = source.get()
    assert isinstance(served, Loud) and served.model is source.current()
    assert served.predict([[9.0], [1.0]]) == ["BIG", "SMALL"]
    assert source.get() is served and len(shouter.calls) == 1  # not per prediction
    assert source.served_by() == "loud"
    stored["model_persister"].activate(1)
    source.reload()
    assert [version for version, _ in shouter.calls] == [2, 1]  # again for the new model
    assert source.get().__metadata__["version"] == 1


def test_without_an_answer_the_model_itself_serves(pm, stored):
    class Declines:
        @hookimpl
        def pld_serve_model(self, model: Any, config: Any) -> Any:
            return None

    pm.register(Declines(), name="declines")
    source = ModelSource(stored)
    assert source.get() is source.current()
    assert source.served_by() == "python"


def test_a_failing_implementation_is_logged_and_the_model_serves(pm, stored, caplog):
    class Broken:
        @hookimpl
        def pld_serve_model(self, model: Any, config: Any) -> Any:
            raise RuntimeError("no runtime here")

    pm.register(Broken(), name="broken")
    with caplog.at_level(logging.ERROR, logger="pld_core.model_source"):
        source = ModelSource(stored)
    assert source.get() is source.current()
    assert source.served_by() == "python"
    assert "pld_serve_model failed" in caplog.text and "no runtime here" in caplog.text


def test_a_configuration_error_stops_the_source_as_for_loading(pm, stored):
    class Strict:
        @hookimpl
        def pld_serve_model(self, model: Any, config: Any) -> Any:
            raise ConfigError("compiled_inference: must be a dict")

    pm.register(Strict(), name="strict")
    with pytest.raises(ConfigError, match="compiled_inference: must be a dict"):
        ModelSource(stored)


def test_no_model_no_served_by(pm, write_config):
    pm.register(Shouter(), name="shouter")
    source = ModelSource(load_config(write_config(TOY_CONFIG), plugins=pm))
    assert source.served_by() is None
