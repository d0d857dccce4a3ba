"""``pld predict``: predictions for a file of samples, through the one predict path.

Samples come as CSV (a header row names the fields), Parquet, JSON lines (one object per line)
or a JSON list of objects. They are read in chunks by pyarrow, so memory stays bounded however
large the file, and predicted in batches by the same :class:`~pld_core.PredictPath`
``/predict`` and ``pld stream`` use, so a bad sample gets the same message. Each output row is
the input row plus its ``prediction``. A batch with a bad sample is split until the bad one
stands alone: it gets an ``error`` instead of a prediction, and the command reports it and
exits non-zero once every good row is written.

pyarrow is imported when the command runs, not when pld starts. The model is read inside
:func:`~pld_core.deferred_unpickling`: a version served from its stored form is not unpickled.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from types import ModuleType

import click

from pld_core import (
    VERSION,
    Config,
    ModelSource,
    PldError,
    command_config,
    common_options,
    deferred_unpickling,
    hookimpl,
    make_predict_path,
)
from pld_core.default_plugins.batch.options import (
    BATCH_SIZE,
    FORMATS,
    SHOWN_ROW_ERRORS,
    BatchInputError,
)


@click.command("predict")
@common_options
@click.option(
    "--input",
    "-i",
    "source",
    default="-",
    show_default=True,
    metavar="FILE",
    help="Samples: CSV with a header row, Parquet, JSON lines (one object each) or a JSON "
    "list; or a directory or glob of such files (partitions). '-' reads stdin.",
)
@click.option(
    "--output",
    "-o",
    "target",
    default="-",
    show_default=True,
    metavar="FILE",
    help="Where to write the input records with their predictions; '-' is stdout. For "
    "partitions: a directory, one output file per input file.",
)
@click.option(
    "--format",
    "input_format",
    type=click.Choice(FORMATS),
    help="The input format. Default: from the file's extension; jsonl for stdin.",
)
@click.option(
    "--output-format",
    type=click.Choice(FORMATS),
    help="The output format. Default: from the file's extension, else the input's.",
)
@click.option(
    "--service",
    default="predict_service",
    show_default=True,
    help="The config entry of the predict service to use.",
)
@click.option(
    "--model-version",
    type=VERSION,
    metavar="VERSION",
    help="The stored version to predict with. Default: the active one.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=BATCH_SIZE,
    show_default=True,
    help="Samples predicted per call to the model.",
)
@click.option(
    "--predictions-only", is_flag=True, help="Write only the predictions, not the input fields."
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Score the partitions of a directory or glob on a cluster: a dask scheduler "
    "(tcp://host:8786), its scheduler file (*.json), or local:N for N local worker processes.",
)
def predict_command(
    source: str,
    target: str,
    input_format: str | None,
    output_format: str | None,
    service: str,
    model_version: int | None,
    batch_size: int,
    predictions_only: bool,
    scheduler: str | None,
) -> None:
    """Predict a file of samples in batches, through the same path as /predict.

    Each output record is the input record plus "prediction"; a sample that cannot be
    predicted gets an "error" instead, is reported on stderr, and makes the exit status 1
    once all the others are written.
    """
    run = _runner()
    partitioned = run.is_partitioned(source)
    if scheduler and not partitioned:
        raise BatchInputError("--scheduler needs a directory or a glob of input files (-i DIR)")
    # Entries are built when used (a stored model predicts: the config's `model` is not
    # built), and a version a plugin serves from its stored form (a verified ONNX one) is
    # never unpickled: the run need not import scikit-learn.
    with deferred_unpickling():
        config = command_config(mode=None, lazy=True)
        path = make_predict_path(config, service, ModelSource(config, version=model_version))
    options = {
        "input_format": input_format,
        "output_format": output_format,
        "batch_size": batch_size,
        "keep_input": not predictions_only,
    }
    where = f" into {target}" if target != "-" else ""
    if partitioned:
        executor = _executor(config, scheduler) if scheduler else None
        report, count = run.run_partitions(
            path,
            config.files,
            source,
            target,
            service=service,
            version=model_version,
            executor=executor,
            progress=lambda line: click.echo(line, err=True),
            **options,
        )
        where = f" in {count} partitions{where}"
    else:
        report = run.run_batch(path, source, target, **options)
    for row, message in report.errors[:SHOWN_ROW_ERRORS]:
        click.echo(f"{row}: {message}", err=True)
    if report.failed > len(report.errors):
        hidden = report.failed - len(report.errors)
        click.echo(
            f"... and {hidden} more rows with errors (see the output's error field)", err=True
        )
    summary = f"Predicted {report.predicted} of {report.rows} rows{where}"
    if report.failed:
        raise PldError(f"{summary}; {report.failed} could not be predicted.")
    click.echo(summary + ".", err=True)


def _runner() -> ModuleType:
    """The module that runs a batch, imported with pyarrow only when a batch runs."""
    try:
        from pld_core.default_plugins.batch import partitions
    except ImportError as exc:
        raise BatchInputError(
            f'pld predict needs pyarrow (pip install "pld-core[batch]"): {exc}'
        ) from None
    return partitions


def _executor(config: Config, scheduler: str) -> AbstractContextManager[Executor]:
    """The ``pld_batch_executor`` hook's answer for ``--scheduler``."""
    answer = config.plugins.hook.pld_batch_executor(scheduler=scheduler) if config.plugins else None
    if answer is None:
        raise BatchInputError(
            f"no plugin runs batches on {scheduler!r}; pld-plugins does with dask "
            '(pip install "pld-plugins[dask]")'
        )
    executor: AbstractContextManager[Executor] = answer
    return executor


@hookimpl
def pld_register_commands(register: Callable[..., None]) -> None:
    register(predict_command)
