"""Every hook pld calls. Each docstring is the hook's user documentation.

Two families:

* **Collection hooks** (``pld_register_*``) hand each plugin a ``register`` callable. pld owns
  the names: registering a name another plugin already took is an error naming both plugins.
* **Call-through hooks** (``pld_load_data``, ``pld_fit``, ``pld_read_model``,
  ``pld_write_model``, ``pld_predict``, ``pld_make_scorer``) return the first non-``None``
  result. pld_core ships the plain default for each (marked ``trylast``); a plugin wraps them
  with ``@hookimpl(wrapper=True)`` for tracing, metrics or auditing, or replaces them.

Hooks are always called with keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from pld_core.interfaces import DatasetLoader, ModelPersister

PROJECT = "pld"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "hookimpl", "hookspec"]


@hookspec
def pld_register_dataset_loaders(register: Callable[..., None]) -> None:
    """Register dataset loader classes under names a config's ``__factory__`` can use.

    Called whenever pld collects component names: on each config load and by ``pld plugins``.

    :param register: ``register(name, factory, aliases=())``. ``aliases`` are extra names,
        typically the Palladium 1.2 dotted name (``"palladium.dataset.Table"``).
    """


@hookspec
def pld_register_models(register: Callable[..., None]) -> None:
    """Register model classes (or factories returning models) under short names.

    :param register: ``register(name, factory, aliases=())``, as for dataset loaders.
    """


@hookspec
def pld_register_persisters(register: Callable[..., None]) -> None:
    """Register model persister classes under short names.

    :param register: ``register(name, factory, aliases=())``, as for dataset loaders.
    """


@hookspec
def pld_register_predict_services(register: Callable[..., None]) -> None:
    """Register predict service classes, the objects behind ``/predict`` and ``pld stream``.

    :param register: ``register(name, factory, aliases=())``, as for dataset loaders.
    """


@hookspec
def pld_register_decorators(register: Callable[..., None]) -> None:
    """Register named decorators that a config's decorator lists may name.

    A decorator list entry such as ``'predict_decorators': ['my-auth']`` is looked up here
    before it is tried as a dotted import path.

    :param register: ``register(name, decorator, aliases=())``.
    """


@hookspec
def pld_register_components(register: Callable[..., None]) -> None:
    """Register any other named component a config can build (helpers, wiring entries).

    pld-core registers ``url-rule`` (alias ``palladium.server.add_url_rule``) here.

    :param register: ``register(name, factory, aliases=())``, as for dataset loaders.
    """


@hookspec
def pld_register_routes(register: Callable[..., None]) -> None:
    """Add HTTP endpoints to the WSGI application.

    Called once per application when ``pld_core.server.create_app`` builds it.

    :param register: ``register(rule, view, methods=("GET",), decorators=None)`` where
        ``rule`` is a path such as ``"/explain"`` and ``view`` is called as
        ``view(request, app)`` and returns a Werkzeug response. ``decorators`` names the
        config decorator list that wraps the view.
    """


@hookspec
def pld_register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``pld`` command line.

    Called every time the ``pld`` group is built.

    :param cli: The :class:`click.Group` to add commands to (``@cli.command()``).
    """


@hookspec
def pld_register_tasks(register: Callable[..., None]) -> None:
    """Add a long job that both the command line and HTTP can start, with one set of options.

    Each task becomes the command ``pld <name>``; a config's ``url-rule`` with
    ``view_func: '<name>'`` serves it as an endpoint that runs it as a background job (like
    ``/fit``). pld-core registers ``fit``; pld-plugins registers ``grid-search``.

    :param register: ``register(task)`` with a :class:`pld_core.Task`. A name another plugin
        took is an error naming both plugins; so is the name of a core command.
    """


@hookspec(firstresult=True)
def pld_load_data(loader: DatasetLoader) -> tuple[Any, Any] | None:
    """Load a dataset through ``loader``; the default calls ``loader()``.

    :param loader: The configured dataset loader.
    :return: ``(X, y)``; ``y`` may be ``None``.
    """


@hookspec(firstresult=True)
def pld_fit(model: Any, X: Any, y: Any) -> Any:
    """Fit ``model`` to ``X`` and ``y``; the default calls ``model.fit(X, y)``.

    :param model: The configured model (a scikit-learn style estimator).
    :param X: The training data.
    :param y: The training target, or ``None``.
    :return: The fitted model.
    """


@hookspec(firstresult=True)
def pld_read_model(persister: ModelPersister, version: int | None) -> Any:
    """Read a model from a persister; the default calls ``persister.read(version)``.

    :param persister: The configured model persister.
    :param version: The version to read, or ``None`` for the active one.
    :return: The model, annotated with its metadata.
    """


@hookspec(firstresult=True)
def pld_write_model(persister: ModelPersister, model: Any) -> int | None:
    """Write a model to a persister; the default calls ``persister.write(model)``.

    :param persister: The configured model persister.
    :param model: The fitted model, already annotated with its metadata.
    :return: The new version number.
    """


@hookspec(firstresult=True)
def pld_predict(model: Any, X: Any, method: str, params: dict[str, Any]) -> Any:
    """Run a prediction; the default calls ``getattr(model, method)(X, **params)``.

    This is on the serving hot path: a wrapper here costs every request.

    :param model: The model being served.
    :param X: The samples, one row each.
    :param method: ``"predict"`` or ``"predict_proba"``.
    :param params: Extra keyword arguments for the model's method.
    :return: The predictions, one per row.
    """


@hookspec(firstresult=True)
def pld_make_scorer(scoring: Any) -> Callable[[Any, Any, Any], float] | None:
    """Turn a config's ``scoring`` value into a scorer ``scorer(model, X, y) -> float``.

    pld-plugins answers for scikit-learn scorer names (``"accuracy"``, ``"f1_macro"``...).
    The core's fallback accepts a callable and uses it as it is.

    :param scoring: The ``scoring`` value from the config: a name or a callable.
    :return: The scorer, or ``None`` to let the next plugin try.
    """
