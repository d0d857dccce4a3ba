"""A directory or glob of input files scored file by file: one output file per partition.

Each partition goes through :func:`~pld_core.default_plugins.batch.run.run_batch`, the code that
scores a single file, in this process or, with ``--scheduler``, on the workers of a cluster (the
``pld_batch_executor`` hook's executor). A worker loads the config and the model once and keeps
them for every partition it scores. The output directory is built under a temporary name, gets
a ``_SUCCESS`` marker when every partition is written, and is renamed into place: it is there
complete, or not at all (a previous one stays as it was).
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, as_completed
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace

from pld_core import (
    ModelSource,
    PredictPath,
    deferred_unpickling,
    load_config,
    make_predict_path,
)
from pld_core.default_plugins.batch.options import BatchInputError, extension_of, format_of
from pld_core.default_plugins.batch.run import BatchReport, output_format_of, run_batch
from pld_core.default_plugins.batch.writers import current_umask

__all__ = ["is_partitioned", "run_batch", "run_partitions", "score_partition"]

#: Written into the output directory once every partition is in it.
SUCCESS_MARKER = "_SUCCESS"
_GLOB_CHARACTERS = frozenset("*?[")


def is_partitioned(source: str) -> bool:
    """Whether ``source`` names several files: a directory or a glob pattern."""
    return os.path.isdir(source) or bool(_GLOB_CHARACTERS & set(source))


def partitions(source: str, input_format: str | None) -> list[str]:
    """The files ``source`` names, sorted: a directory's files of known formats, or a glob's."""
    if os.path.isdir(source):
        names = sorted(os.listdir(source))
        found = [
            os.path.join(source, name)
            for name in names
            if not name.startswith((".", "_"))
            and (input_format or _known(name))
            and os.path.isfile(os.path.join(source, name))
        ]
    else:
        found = sorted(path for path in glob.glob(source) if os.path.isfile(path))
    if not found:
        raise BatchInputError(f"{source} names no input files")
    return [os.path.abspath(path) for path in found]


def _known(name: str) -> bool:
    try:
        format_of(name, None)
    except BatchInputError:
        return False
    return True


@dataclass(frozen=True)
class PartitionJob:
    """What scoring one partition needs; sent to a worker, so plain values only."""

    config_files: tuple[str, ...]
    service: str
    version: int | None
    source: str
    target: str
    input_format: str
    output_format: str
    batch_size: int
    keep_input: bool


def score_partition(job: PartitionJob, path: PredictPath | None = None) -> BatchReport:
    """Score one partition into ``job.target``: the single-file code, on this process's path."""
    name = os.path.basename(job.source)
    return run_batch(
        path or worker_path(job),
        job.source,
        job.target,
        input_format=job.input_format,
        output_format=job.output_format,
        batch_size=job.batch_size,
        keep_input=job.keep_input,
        where=f"{name} ",
    )


_paths: dict[tuple[tuple[str, ...], str, int | None], PredictPath] = {}
_paths_lock = threading.Lock()


def worker_path(job: PartitionJob) -> PredictPath:
    """The predict path for ``job``'s config, service and version, built once per process."""
    key = (job.config_files, job.service, job.version)
    with _paths_lock:
        if key not in _paths:
            with deferred_unpickling():  # as in `pld predict`: see there
                config = load_config(list(job.config_files), lazy=True)
                models = ModelSource(config, version=job.version)
            _paths[key] = make_predict_path(config, job.service, models)
        return _paths[key]


def run_partitions(
    path: PredictPath,
    config_files: tuple[str, ...],
    source: str,
    target: str,
    *,
    service: str,
    version: int | None,
    input_format: str | None,
    output_format: str | None,
    batch_size: int,
    keep_input: bool,
    executor: AbstractContextManager[Executor] | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> tuple[BatchReport, int]:
    """Score every partition of ``source`` into the directory ``target``.

    :param executor: where partitions run (a cluster's); ``None`` scores them here, in order.
    :return: the merged report and the number of partitions.
    """
    if target == "-":
        raise BatchInputError("a directory of inputs needs an output directory (-o DIR)")
    files = partitions(source, input_format)
    path.model()  # refuse early: no model, or one the service cannot feed
    template = PartitionJob(
        tuple(os.path.abspath(name) for name in config_files),
        service,
        version,
        "",
        "",
        "",
        "",
        batch_size,
        keep_input,
    )
    report = BatchReport()
    with _output_directory(target) as folder:
        jobs = []
        for name in files:
            in_fmt = format_of(name, input_format)
            out_fmt = output_format_of("-", in_fmt, output_format)
            stem = os.path.splitext(os.path.basename(name))[0]
            output = os.path.join(folder, stem + extension_of(out_fmt))
            jobs.append(
                replace(
                    template, source=name, target=output, input_format=in_fmt, output_format=out_fmt
                )
            )
        if len({job.target for job in jobs}) < len(jobs):
            raise BatchInputError(f"two inputs in {source} would write the same output file")
        for done, (job, part) in enumerate(_score_all(jobs, path, executor), start=1):
            report.merge(part)
            failed = f", {part.failed} with errors" if part.failed else ""
            progress(
                f"[{done}/{len(jobs)}] {os.path.basename(job.source)}: {part.rows} rows{failed}"
            )
        with open(os.path.join(folder, SUCCESS_MARKER), "w") as marker:
            marker.write(f"{report.rows} rows, {len(jobs)} partitions\n")
    return report, len(jobs)


def _score_all(
    jobs: list[PartitionJob],
    path: PredictPath,
    executor: AbstractContextManager[Executor] | None,
) -> Iterator[tuple[PartitionJob, BatchReport]]:
    """``(job, report)`` as partitions finish: here in order, or as the cluster finishes them."""
    if executor is None:
        for job in jobs:
            yield job, score_partition(job, path)
        return
    with executor as pool:
        futures: dict[Future[BatchReport], PartitionJob] = {
            pool.submit(score_partition, job): job for job in jobs
        }
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


@contextmanager
def _output_directory(target: str) -> Iterator[str]:
    """A temporary directory beside ``target``, renamed to ``target`` if the body succeeds."""
    target = os.path.abspath(target)
    if os.path.exists(target) and not os.path.isdir(target):
        raise BatchInputError(f"{target} exists and is not a directory")
    parent, name = os.path.split(target)
    try:
        folder = tempfile.mkdtemp(prefix=f".pld-predict-{name}-", dir=parent)
    except OSError as exc:
        raise BatchInputError(f"cannot write {target}: {exc.strerror}") from None
    try:
        yield folder
        os.chmod(folder, 0o777 & ~current_umask())
        if os.path.isdir(target):  # replace the previous run's output
            old = tempfile.mkdtemp(prefix=f".pld-predict-{name}-old-", dir=parent)
            os.replace(target, os.path.join(old, name))
            os.replace(folder, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(folder, target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
