"""pld-core: hooks, plugin discovery, configuration, and the fit/test/serve flow.

Everything a plugin needs is importable from here; the submodules are not public API.
"""

from __future__ import annotations

from typing import Any

from pld_core.config import Config, get_config, initialize_config, load_config, use_config
from pld_core.decorators import decorate
from pld_core.errors import ConfigError, PldError, PluginConflictError, PredictError
from pld_core.hookspecs import PROJECT, hookimpl, hookspec
from pld_core.interfaces import (
    CrossValidationGenerator,
    DatasetLoader,
    Model,
    ModelPersister,
    PredictService,
    annotate,
)
from pld_core.jobs import progress_reporter
from pld_core.metadata import data_metadata, distribution_versions, jsonable, model_metadata
from pld_core.plugins import get_plugin_manager
from pld_core.store import ProcessStore, process_store
from pld_core.tasks import Option, OptionError, Task
from pld_core.timing import timer

__all__ = [
    "PROJECT",
    "Config",
    "ConfigError",
    "CrossValidationGenerator",
    "DatasetLoader",
    "Model",
    "ModelPersister",
    "Option",
    "OptionError",
    "PldError",
    "PluginConflictError",
    "PredictError",
    "PredictService",
    "ProcessStore",
    "Task",
    "annotate",
    "command_config",
    "common_options",
    "data_metadata",
    "decorate",
    "distribution_versions",
    "get_config",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
    "initialize_config",
    "jsonable",
    "load_config",
    "make_script",
    "model_metadata",
    "process_store",
    "progress_reporter",
    "timer",
    "use_config",
]


_CLI_HELPERS = ("command_config", "common_options", "make_script")


def __getattr__(name: str) -> Any:
    if name in _CLI_HELPERS:  # imported on use: plain ``import pld_core`` stays free of the CLI
        from pld_core import cli

        return getattr(cli, name)
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pld-core")
        except PackageNotFoundError:  # running from a source tree that is not installed
            return "0.0.0+unknown"
    raise AttributeError(f"module 'pld_core' has no attribute {name!r}")
