"""Every hook pld calls. Each docstring is the hook's user documentation.

Two families:

* **Collection hooks** (``pld_register_*``) hand each plugin a ``register`` callable; each is
  called once, through pluggy. pld owns the names: registering a name another plugin already
  took is an error naming both plugins.
* **Call-through hooks** (``pld_load_data``, ``pld_fit``, ``pld_read_model``,
  ``pld_write_model``, ``pld_predict``, ``pld_make_scorer``) return the first non-``None``
  result. The kernel ships the plain default for each (``pld_core.hook_defaults``, marked
  ``trylast``, always loaded); a plugin wraps them
  with ``@hookimpl(wrapper=True)`` for tracing, metrics or auditing, or replaces them.

Hooks are always called with keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from pld_core.deferred import DeferredModel
    from pld_core.interfaces import DatasetLoader, ModelPersister
    from pld_core.jobs import JobStore
    from pld_core.tasks import Task

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

    pld-core's default plugins register ``url-rule`` (``endpoints``, alias
    ``palladium.server.add_url_rule``) and ``partial`` (``palladium``, alias
    ``palladium.util.Partial``) here.

    :param register: ``register(name, factory, aliases=())``, as for dataset loaders.
    """


@hookspec
def pld_register_routes(register: Callable[..., None], app: Any) -> None:
    """Add HTTP endpoints to every WSGI application pld builds.

    Called once per application by :func:`pld_core.create_app`. pld's own ``/alive``,
    ``/list`` and ``/openapi.json``, and the endpoints a config mounts with ``url-rule``, come
    through this hook too (default plugins ``status``, ``openapi``, ``endpoints``). A path
    has one owner whatever the methods: a path another plugin registered is an error naming
    both, raised when plugins load for routes registered without an app.

    :param register: ``register(path, view, methods=("GET",), decorators=None, openapi=None,
        origin=None, summary="")``: ``view(request, app)`` answers ``methods`` on ``path`` with
        a Werkzeug response; ``decorators`` names the config decorator list that wraps it;
        ``openapi`` is the path's OpenAPI operations (``{"get": {...}}``), or ``summary`` one
        line for them; ``origin`` names who the route is for in conflict messages (default:
        the plugin).
    :param app: The :class:`pld_core.App` being built (its ``config``, ``named_views``,
        ``tasks``), or ``None`` when pld only lists what plugins register (``pld plugins``).
    """


@hookspec
def pld_register_views(register: Callable[..., None], tasks: dict[str, Task]) -> None:
    """Offer views that a config mounts at a path of its choosing with a ``url-rule``.

    ``{'!': 'url-rule', 'rule': '/reload', 'view_func': 'update-model-cache'}`` mounts the view
    registered as ``update-model-cache``. pld's ``tasks`` plugin registers a view for every
    task, so ``view_func: 'fit'`` starts a fit.

    :param register: ``register(name, view, aliases=(), decorators=None, summary="",
        openapi=None, origin=None)``: ``view(request, app)`` as for routes; ``decorators`` the
        config decorator list that wraps it unless the url-rule names one; ``summary`` one line
        for ``/openapi.json``, or ``openapi`` its operations by method; ``origin`` as for
        routes.
    :param tasks: Every registered task by name.
    """


@hookspec
def pld_register_commands(
    register: Callable[..., None], cli: click.Group, tasks: dict[str, Task]
) -> None:
    """Add sub-commands to the ``pld`` command line.

    Called every time the ``pld`` group is built. pld's own commands (``test``, ``list``,
    ``serve``... and one per task) come through this hook too. A name another plugin took is
    an error naming both plugins; while plugins clash only the commands registered with
    ``despite_clashes`` run (``pld plugins`` and ``pld version``), the others exit 2.

    :param register: ``register(command, name=None, origin=None, *, despite_clashes=False)``
        with a :class:`click.Command`; ``origin`` names who the command is for in conflict
        messages (default: the plugin); ``despite_clashes`` lets it run although plugins
        clash (for commands that inspect the installation).
    :param cli: A :class:`click.Group` whose ``add_command`` (and so ``@cli.command()``)
        registers the same way, for plugins written in Click's usual style.
    :param tasks: Every registered task by name.
    """


@hookspec
def pld_register_tasks(register: Callable[..., None]) -> None:
    """Add a long job that both the command line and HTTP can start, with one set of options.

    Each task becomes the command ``pld <name>``; a config's ``url-rule`` with
    ``view_func: '<name>'`` serves it as an endpoint that runs it as a background job (like
    ``/fit``). pld-core's default plugins register ``fit`` and ``test``; pld-plugins registers
    ``grid-search``. :func:`pld_core.run_task` runs one from Python.

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

    For a :class:`~pld_core.ModelStore` that is where pld checks digest and signature before
    unpickling, so an implementation that calls ``persister.read`` keeps the checks.

    :param persister: The configured model persister.
    :param version: The version to read, or ``None`` for the active one.
    :return: The model, annotated with its metadata; inside
        :func:`~pld_core.deferred_unpickling` (``pld predict``) a store's checked
        :class:`~pld_core.DeferredModel`, unpickled when first needed.
    """


@hookspec(firstresult=True)
def pld_write_model(persister: ModelPersister, model: Any, config: Any) -> int | None:
    """Write a model to a persister; the default calls ``persister.write(model)``.

    A :class:`~pld_core.ModelStore` gets the model pickled, digested and signed by pld there.
    A wrapper may still add metadata and attachments before it yields: they are stored, and
    covered by the digest and signature, with the model (pld-plugins' ``compiled`` plugin
    adds the model's verified ONNX form this way).

    :param persister: The configured model persister.
    :param model: The fitted model, already annotated with its metadata.
    :param config: The configuration the model is written for (its other entries, such as
        ``compiled_inference`` or the dataset loaders).
    :return: The new version number.
    """


@hookspec(firstresult=True)
def pld_predict(model: Any, X: Any, method: str, params: dict[str, Any]) -> Any:
    """Run a prediction; the default calls ``getattr(model, method)(X, **params)``.

    Every prediction goes through it: HTTP GET and POST, ``pld stream`` and ``pld predict``.
    It is on the serving hot path: a wrapper here costs every request (with only the default
    implementation, pld calls the model directly).

    :param model: The model being served.
    :param X: The samples, one row each.
    :param method: ``"predict"`` or ``"predict_proba"``.
    :param params: Extra keyword arguments for the model's method.
    :return: The predictions, one per row.
    """


@hookspec(firstresult=True)
def pld_serve_model(model: Any, config: Any) -> Any:
    """What to predict with in place of ``model``, or ``None`` to serve the model itself.

    Called once for each model a :class:`~pld_core.ModelSource` serves — an app's, ``pld
    stream``'s, ``pld predict``'s — when it is read, or for a caching persister's model before
    its first prediction; never per request. pld-plugins' ``compiled`` plugin answers with the
    version's verified ONNX form (``compiled_inference``). The answer is what ``pld_predict``
    (or pld itself) calls: it must predict as the model does and carry its ``__metadata__``;
    its ``served_by`` attribute names it in ``/alive``. An implementation that raises is
    logged, and the model itself serves.

    :param model: The model as read from the store, with its ``__metadata__``.
    :param config: The configuration being served.
    :return: The object to predict with, or ``None`` to let the next plugin answer.
    """


@hookspec(firstresult=True)
def pld_serve_stored(model: DeferredModel, config: Any) -> Any:
    """What to predict with for a version that has not been unpickled, or ``None``.

    Asked before :func:`pld_serve_model` where pld defers unpickling (``pld predict``, inside
    :func:`~pld_core.deferred_unpickling`), once per model. ``model`` is a
    :class:`~pld_core.DeferredModel`: its ``__metadata__`` is the stored metadata, attachments
    checked against their digests; ``model.load()`` unpickles the Python model (once) and is
    for what the answer cannot do itself. pld-plugins' ``compiled`` plugin answers with the
    version's verified ONNX form, so a batch run never imports scikit-learn. With no answer,
    pld unpickles the model and asks :func:`pld_serve_model` as usual.

    :param model: The checked, not yet unpickled version (a :class:`~pld_core.DeferredModel`).
    :param config: The configuration being served.
    :return: The object to predict with (as for :func:`pld_serve_model`), or ``None``.
    """


@hookspec
def pld_input_out_of_range(entry_point: str | None, version: Any, counts: dict[str, int]) -> None:
    """Told when a prediction's input had values outside the range seen in training.

    pld checks every model input against the version's stored input schema; values beyond
    the training data's minimum or maximum are legal and answered, but a sign of drift. This
    hook is called only for inputs that had any (no cost otherwise); pld-plugins' metrics
    count them as ``pld_input_out_of_range_total``.

    :param entry_point: The predict service's URL path (``None`` for a service without one).
    :param version: The model version that answered, when known.
    :param counts: How many values were outside the range, by field name.
    """


@hookspec(firstresult=True)
def pld_make_scorer(scoring: Any) -> Callable[[Any, Any, Any], float] | None:
    """Turn a config's ``scoring`` value into a scorer ``scorer(model, X, y) -> float``.

    pld-plugins answers for scikit-learn scorer names (``"accuracy"``, ``"f1_macro"``...).
    The core's fallback accepts a callable and uses it as it is.

    :param scoring: The ``scoring`` value from the config: a name or a callable.
    :return: The scorer, or ``None`` to let the next plugin try.
    """


@hookspec(firstresult=True)
def pld_job_store(config: Any) -> JobStore | None:
    """The store of background job records (``/fit``... started over HTTP) for ``config``.

    Called once per application. The kernel's fallback keeps the records in this process
    (only the worker that runs a job knows it); pld-plugins answers with a database every
    worker and instance shares (the ``jobs`` entry's ``url``, else the model store's
    database when it is one, else an SQLite file beside the config), so ``/alive`` and
    ``GET /jobs/<id>`` report every job from any worker. Whatever the store, pld beats a
    heartbeat into running jobs, marks a job whose runner died ``lost`` and stops a job
    ``DELETE /jobs/<id>`` cancels at its next stage.

    :param config: The application's configuration (its ``jobs`` entry, its store).
    :return: A :class:`pld_core.jobs.JobStore`, or ``None`` to let the next plugin answer.
    """


@hookspec(firstresult=True)
def pld_run_job(config: Any, task: Task, options: dict[str, Any], jobs: JobStore) -> str | None:
    """Start ``task`` as a background job for a request to its endpoint; return the job's id.

    Called by every task endpoint (``/fit``, ``/grid-search``...) once the request's options
    are checked. The kernel's fallback runs ``task.run(config, **options)`` in a thread of
    the web worker that took the request (:func:`pld_core.run_job`). pld-plugins answers
    when the ``jobs`` entry names a dask scheduler: the job runs on the cluster and the web
    worker only submits it. A runner adds the record with :func:`pld_core.new_job` and runs
    the job under :func:`pld_core.execute_job` wherever it runs, so heartbeat, progress,
    cancel and ``lost`` work as for a thread. A :class:`pld_core.PldError` it raises is
    answered as 503 with its message (nothing was started).

    :param config: The application's configuration (its ``jobs`` entry, its files).
    :param task: The task to run (:class:`pld_core.Task`; ``task.name`` names the job).
    :param options: The request's checked task options, as ``task.run`` takes them.
    :param jobs: The application's job store (the ``pld_job_store`` hook's answer).
    :return: The new job's id, or ``None`` to let the next plugin start it.
    """


@hookspec(firstresult=True)
def pld_batch_executor(scheduler: str) -> Any:
    """Where ``pld predict --scheduler`` scores the partitions of a directory or glob of inputs.

    Return a context manager whose value is a :class:`concurrent.futures.Executor`; pld
    submits one call per partition to it (a module-level function of pld's, taking plain
    values), which loads the config and the model once per worker process and scores the
    partition with the code ``pld predict`` uses for a single file, writing its output file
    into the output directory. Leaving the context manager releases the cluster. pld-plugins
    answers with a dask.distributed client for ``tcp://host:port``, a scheduler file
    (``*.json``) or ``local:N`` (a ``LocalCluster`` of N worker processes on 127.0.0.1).
    Without ``--scheduler`` the partitions are scored in the ``pld`` process, in order.

    :param scheduler: The ``--scheduler`` value, as given.
    :return: The context manager, or ``None`` to let the next plugin answer.
    """
