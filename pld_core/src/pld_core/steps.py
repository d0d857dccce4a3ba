"""The steps every flow is made of, each through its hook and its config decorator list.

Fit, test, grid search, export and serving all load data, fit, read and write models here, so a
plugin's hook wrapper or a config decorator sees every one of them. Tasks registered by plugins
(``fit``, ``grid-search``) run by name through :func:`run_task`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from pld_core.config import Config
from pld_core.decorators import decorate
from pld_core.errors import ConfigError
from pld_core.integrity import require_verified
from pld_core.registry import collect_tasks
from pld_core.tasks import task_names

Scorer = Callable[[Any, Any, Any], float]


def _plugins(config: Config) -> pluggy.PluginManager:
    if config.plugins is None:
        raise ConfigError("this configuration was built without a plugin manager")
    return config.plugins


def _hooks(config: Config) -> Any:
    return _plugins(config).hook


def load_data(config: Config, key: str) -> tuple[Any, Any]:
    """Load the dataset of loader entry ``key`` (``dataset_loader_train`` or ``_test``)."""
    loader = config[key]
    hooks = _hooks(config)

    def load(loader: Any) -> tuple[Any, Any]:
        return hooks.pld_load_data(loader=loader)  # type: ignore[no-any-return]

    result = decorate(load, config, "load_data_decorators")(loader)
    if not isinstance(result, tuple) or len(result) != 2:
        raise config.error(f"the dataset loader returned {type(result).__name__}, not (X, y)", key)
    return result


def fit_model(config: Config, model: Any, X: Any, y: Any) -> Any:
    """Fit ``model`` through the ``pld_fit`` hook."""
    return _hooks(config).pld_fit(model=model, X=X, y=y)


def read_model(config: Config, version: int | None = None, key: str = "model_persister") -> Any:
    """Read ``version`` (or the active model) from the persister entry ``key``.

    A :class:`~pld_core.ModelStore` checks digest and signature before unpickling; with
    ``PLD_MODEL_SIGNING_KEY`` set, any other persister is refused.
    """
    persister = config[key]
    require_verified(persister)
    hooks = _hooks(config)

    def read(persister: Any, version: int | None) -> Any:
        return hooks.pld_read_model(persister=persister, version=version)

    return decorate(read, config, "read_model_decorators")(persister, version)


def write_model(config: Config, model: Any, key: str = "model_persister") -> int:
    """Write ``model`` as a new version to the persister entry ``key``; return the version."""
    persister = config[key]
    require_verified(persister)
    hooks = _hooks(config)

    def write(persister: Any, model: Any) -> int:
        written = hooks.pld_write_model(persister=persister, model=model, config=config)
        return written  # type: ignore[no-any-return]

    return int(decorate(write, config, "write_model_decorators")(persister, model))


def scorers(config: Config, model: Any) -> dict[str, Scorer]:
    """Name → scorer ``scorer(model, X, y)`` for this config and model.

    ``scoring`` may be a scorer name, a callable, or a dict of name → either; each goes through
    the ``pld_make_scorer`` hook. Without it, the model's own ``score`` method is used.
    """
    scoring = config.get("scoring")
    if scoring is None:
        if not callable(getattr(model, "score", None)):
            raise config.error(
                "the model has no 'score' method; add a 'scoring' entry to the configuration",
                "scoring",
            )
        return {"score": _model_score}
    if isinstance(scoring, dict):
        return {
            str(name): _scorer(config, value, f"scoring.{name}") for name, value in scoring.items()
        }
    name = scoring if isinstance(scoring, str) else getattr(scoring, "__name__", "score")
    return {name: _scorer(config, scoring, "scoring")}


def _model_score(model: Any, X: Any, y: Any) -> float:
    return float(model.score(X, y))


def _scorer(config: Config, scoring: Any, key: str) -> Scorer:
    scorer = _hooks(config).pld_make_scorer(scoring=scoring)
    if scorer is None:
        raise config.error(f"unknown scorer {scoring!r} (no installed plugin knows it)", key)
    return scorer  # type: ignore[no-any-return]


def run_task(config: Config, name: str, **options: Any) -> Any:
    """Run the task ``name`` (``fit``, ``grid-search``...) with ``options``; return its result."""
    tasks = collect_tasks(_plugins(config))
    if name not in tasks:
        raise ConfigError(f"no plugin registers the task {name!r} (tasks: {task_names(tasks)})")
    return tasks[name].run(config, **options)


def fit(config: Config, **options: Any) -> Any:
    """``pld fit`` from Python: run the ``fit`` task (options as its keywords: ``persist``,
    ``activate``, ``evaluate``, ``persist_if_better_than``) and return its ``FitResult``."""
    return run_task(config, "fit", **options)


def list_models(config: Config, key: str = "model_persister") -> dict[str, Any]:
    """The stored versions (metadata, oldest first) and the store's properties."""
    persister = config[key]
    return {"models": persister.list_models(), "properties": persister.list_properties()}
