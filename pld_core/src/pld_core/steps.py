"""The four storage and data steps, each through its hook and its config decorator list.

Every command goes through these (and the server reads a model it keeps in memory through
``read_model``), so a plugin's wrapper or a config decorator sees each load, fit, read and
write. A caching persister's own scheduled reloads read from its inner store directly.
"""

from __future__ import annotations

from typing import Any

from pld_core.config import Config
from pld_core.decorators import decorate
from pld_core.errors import ConfigError


def _hooks(config: Config) -> Any:
    if config.plugins is None:
        raise ConfigError("this configuration was built without a plugin manager")
    return config.plugins.hook


def load_data(config: Config, key: str) -> tuple[Any, Any]:
    """Load the dataset of loader entry ``key`` (``dataset_loader_train`` or ``_test``)."""
    loader = config[key]
    hooks = _hooks(config)

    def load(loader: Any) -> tuple[Any, Any]:
        return hooks.pld_load_data(loader=loader)

    result = decorate(load, config, "load_data_decorators")(loader)
    if not isinstance(result, tuple) or len(result) != 2:
        raise config.error(f"the dataset loader returned {type(result).__name__}, not (X, y)", key)
    return result


def fit_model(config: Config, model: Any, X: Any, y: Any) -> Any:
    """Fit ``model`` through the ``pld_fit`` hook."""
    return _hooks(config).pld_fit(model=model, X=X, y=y)


def read_model(config: Config, version: int | None = None, key: str = "model_persister") -> Any:
    """Read ``version`` (or the active model) from the persister entry ``key``."""
    persister = config[key]
    hooks = _hooks(config)

    def read(persister: Any, version: int | None) -> Any:
        return hooks.pld_read_model(persister=persister, version=version)

    return decorate(read, config, "read_model_decorators")(persister, version)


def write_model(config: Config, model: Any, key: str = "model_persister") -> int:
    """Write ``model`` as a new version to the persister entry ``key``; return the version."""
    persister = config[key]
    hooks = _hooks(config)

    def write(persister: Any, model: Any) -> int:
        return hooks.pld_write_model(persister=persister, model=model)

    return int(decorate(write, config, "write_model_decorators")(persister, model))
