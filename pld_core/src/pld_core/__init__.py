"""pld-core: the kernel of pld — hooks, plugin discovery, config, the one predict path, and the
server and CLI shells. pld's features are default plugins (``pld_core.default_plugins``).

Everything a plugin, a test or an application needs is importable from here; the submodules
are not public API. ARCHITECTURE.md in the repository is the map.
"""

from __future__ import annotations

from pld_core.cli import command_config, command_plugins, common_options, make_cli, make_script
from pld_core.config import Config, get_config, initialize_config, load_config, use_config
from pld_core.converters import MAX_VERSION, VERSION, to_bool, to_float, to_int, to_str, to_version
from pld_core.decorators import decorate
from pld_core.deferred import DeferredModel, deferred_unpickling
from pld_core.encoding import decode, encode, encode_text
from pld_core.envelope import (
    JSON_MIMETYPE,
    describe_error,
    error_body,
    error_response,
    error_text,
    json_response,
)
from pld_core.errors import (
    ConfigError,
    InputError,
    LimitError,
    NoModelError,
    PldError,
    PluginConflictError,
    PredictError,
)
from pld_core.factories import import_dotted
from pld_core.hookspecs import PROJECT, hookimpl, hookspec
from pld_core.integrity import (
    ATTACHMENT_PREFIX,
    ATTACHMENTS,
    SIGNING_KEY_VARIABLE,
    ModelIntegrityError,
    StoredModel,
    json_default,
    require_verified,
    signing_key,
)
from pld_core.interfaces import (
    CachingModelPersister,
    CrossValidationGenerator,
    DatasetLoader,
    Model,
    ModelPersister,
    ModelStore,
    PredictService,
    annotate,
)
from pld_core.jobs import (
    InProcessJobs,
    JobCancelled,
    JobStore,
    cancel_job,
    execute_job,
    job_record,
    job_records,
    new_job,
    progress_reporter,
    run_job,
)
from pld_core.metadata import (
    data_metadata,
    distribution_versions,
    input_schema,
    jsonable,
    model_metadata,
    training_metadata,
)
from pld_core.model_source import ModelSource
from pld_core.plugins import DEFAULT_PLUGINS, core_version, describe_plugins, get_plugin_manager
from pld_core.predict_path import PredictPath, make_predict_path, parse_json
from pld_core.process_state import ProcessStore, process_store
from pld_core.server import App, Endpoint, Limits, create_app
from pld_core.steps import (
    fit,
    fit_model,
    list_models,
    load_data,
    read_model,
    run_task,
    scorers,
    write_model,
)
from pld_core.tasks import Option, OptionError, Task
from pld_core.timing import timer

__version__ = core_version()

__all__ = [
    "ATTACHMENT_PREFIX",
    "ATTACHMENTS",
    "DEFAULT_PLUGINS",
    "JSON_MIMETYPE",
    "MAX_VERSION",
    "PROJECT",
    "VERSION",
    "SIGNING_KEY_VARIABLE",
    "App",
    "CachingModelPersister",
    "Config",
    "ConfigError",
    "CrossValidationGenerator",
    "DatasetLoader",
    "DeferredModel",
    "Endpoint",
    "InProcessJobs",
    "InputError",
    "JobCancelled",
    "JobStore",
    "Limits",
    "LimitError",
    "Model",
    "ModelIntegrityError",
    "ModelPersister",
    "ModelSource",
    "ModelStore",
    "NoModelError",
    "Option",
    "OptionError",
    "PldError",
    "PluginConflictError",
    "PredictError",
    "PredictPath",
    "PredictService",
    "ProcessStore",
    "StoredModel",
    "Task",
    "__version__",
    "annotate",
    "command_config",
    "command_plugins",
    "cancel_job",
    "common_options",
    "create_app",
    "data_metadata",
    "decode",
    "decorate",
    "deferred_unpickling",
    "describe_error",
    "describe_plugins",
    "distribution_versions",
    "encode",
    "encode_text",
    "error_body",
    "error_response",
    "error_text",
    "execute_job",
    "fit",
    "fit_model",
    "get_config",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
    "import_dotted",
    "initialize_config",
    "input_schema",
    "json_default",
    "json_response",
    "job_record",
    "job_records",
    "jsonable",
    "list_models",
    "load_config",
    "load_data",
    "make_cli",
    "make_script",
    "model_metadata",
    "new_job",
    "parse_json",
    "make_predict_path",
    "process_store",
    "progress_reporter",
    "read_model",
    "require_verified",
    "run_job",
    "run_task",
    "scorers",
    "signing_key",
    "timer",
    "to_bool",
    "to_float",
    "to_int",
    "to_str",
    "to_version",
    "training_metadata",
    "use_config",
    "write_model",
]
