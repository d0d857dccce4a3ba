"""Training and testing: the ``fit`` and ``test`` tasks (``pld fit``, ``pld test``; ``/fit``).

``fit`` loads the training data, fits the model, evaluates, persists and activates; ``test``
scores a stored version on the test data. Both go through the hooked steps of the public API
(``load_data``, ``fit_model``, ``read_model``, ``write_model``, ``scorers``).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pld_core import (
    Config,
    Option,
    Task,
    annotate,
    decorate,
    fit_model,
    hookimpl,
    load_data,
    read_model,
    scorers,
    timer,
    to_version,
    training_metadata,
    write_model,
)
from pld_core.default_plugins.rollout import (
    PREVIOUS_ACTIVE,
    ROLLOUT,
    active_version,
    compare_with_active,
    register_rollout_tasks,
)

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What a fit produced: the model, its scores, and the version written (if any)."""

    model: Any
    version: int | None = None
    activated: bool = False
    scores: dict[str, float] = field(default_factory=dict)
    skipped_reason: str | None = None
    rollout: dict[str, Any] | None = None
    report: str | None = None

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary, e.g. for the ``/fit`` job record."""
        described = {
            "version": self.version,
            "activated": self.activated,
            "scores": self.scores,
            "skipped_reason": self.skipped_reason,
        }
        if self.rollout is not None:
            described["rollout"] = self.rollout
        return described

    def scores_for(self, split: str) -> dict[str, float]:
        """Scores of one split (``"train"`` or ``"test"``), by scorer name."""
        prefix = f"{split}_"
        return {k[len(prefix) :]: v for k, v in self.scores.items() if k.startswith(prefix)}


def fit(
    config: Config,
    *,
    persist: bool = True,
    activate: bool = True,
    evaluate: bool = False,
    persist_if_better_than: float | None = None,
    activate_if_better: bool | None = False,
    margin: float | None = None,
    report: str | None = None,
) -> FitResult:
    """Fit the configured model; persist and activate it unless told otherwise.

    ``persist_if_better_than`` implies ``evaluate`` and persists only when the test score is
    at least that value. ``activate_if_better`` implies ``evaluate`` too: the candidate is
    stored, and activated only when its test score beats the active version's by ``margin``.
    ``report`` (a file path) implies ``evaluate``: the HTML report on the test data goes there.
    """
    run = decorate(_fit, config, "fit_decorators")
    options: dict[str, Any] = {}
    if report:  # only when asked, like activate_if_better
        options.update(report=report)
    if activate_if_better:  # only when asked: fit_decorators written for Palladium still work
        options.update(activate_if_better=True, margin=margin or 0.0)
    return run(
        config,
        persist=persist,
        activate=activate and persist,
        evaluate=evaluate
        or persist_if_better_than is not None
        or bool(activate_if_better)
        or bool(report),
        persist_if_better_than=persist_if_better_than,
        **options,
    )


def _fit(
    config: Config,
    *,
    persist: bool,
    activate: bool,
    evaluate: bool,
    persist_if_better_than: float | None,
    activate_if_better: bool = False,
    margin: float = 0.0,
    report: str | None = None,
) -> FitResult:
    model = config["model"]
    reporter = _reporter(config, "dataset_loader_test") if report else None
    test_data: tuple[Any, Any] | None = None
    if persist_if_better_than is not None and "dataset_loader_test" not in config:
        raise config.error(
            "--save-if-better-than needs a 'dataset_loader_test' entry to score against",
            "dataset_loader_test",
        )
    if activate_if_better and "dataset_loader_test" not in config:
        raise config.error(
            "--activate-if-better needs a 'dataset_loader_test' entry to score against",
            "dataset_loader_test",
        )
    chosen = scorers(config, model) if evaluate else {}
    if persist:
        config["model_persister"]  # fail on a missing persister before the long fit

    with timer(logger, "Loading data"):
        X, y = load_data(config, "dataset_loader_train")
    started = time.perf_counter()
    with timer(logger, "Fitting model"):
        model = fit_model(config, model, X, y)
    annotate(model, training_metadata(model, X, config["dataset_loader_train"]))
    annotate(model, {"fit_seconds": round(time.perf_counter() - started, 3)})

    result = FitResult(model=model)
    if evaluate:
        train_scores = {name: float(scorer(model, X, y)) for name, scorer in chosen.items()}
        _record_scores(model, result, "train", train_scores)
    del X, y
    gc.collect()
    if evaluate and "dataset_loader_test" in config:
        with timer(logger, "Loading test data"):
            X_test, y_test = load_data(config, "dataset_loader_test")
        test_scores = {
            name: float(scorer(model, X_test, y_test)) for name, scorer in chosen.items()
        }
        _record_scores(model, result, "test", test_scores)
        if activate_if_better and persist and activate:
            result.rollout = compare_with_active(config, test_scores, X_test, y_test, margin)
            annotate(model, {ROLLOUT: result.rollout})
            logger.debug("Rollout: %s (%s)", result.rollout["decision"], result.rollout["reason"])
        if reporter is not None and report:  # written once the version is stored, below
            result.report = report
            test_data = (X_test, y_test)

    if not persist:
        return _with_report(config, result, reporter, test_data)
    if persist_if_better_than is not None:
        test_score = next(iter(result.scores_for("test").values()))
        if test_score < persist_if_better_than:
            result.skipped_reason = (
                f"not persisting: test score {test_score:.4f} < {persist_if_better_than}"
            )
            logger.debug(result.skipped_reason)
            return _with_report(config, result, reporter, test_data)
    # The activation history: the version this one would replace (``pld rollback``).
    annotate(model, {PREVIOUS_ACTIVE: active_version(config["model_persister"])})
    with timer(logger, "Writing model"):
        result.version = write_model(config, model)
    if result.rollout is not None and result.rollout["decision"] != "activate":
        activate = False
    if activate:
        config["model_persister"].activate(result.version)
        result.activated = True
    return _with_report(config, result, reporter, test_data)


def _with_report(
    config: Config, result: FitResult, reporter: Any, test_data: tuple[Any, Any] | None
) -> FitResult:
    """Write ``pld fit --report``'s report: the new version among the stored ones."""
    if reporter is not None and result.report is not None and test_data is not None:
        with timer(logger, "Writing report"):
            X, y = test_data
            reporter.model(result.report, config=config, model=result.model, X=X, y=y)
    return result


#: The component that writes HTML reports (pld-plugins' ``report`` plugin registers it).
REPORT_COMPONENT = "html-report"


def _reporter(config: Config, needs: str) -> Any:
    """The registered report writer; a config error when none is installed or no test data."""
    entry = config.registry.get(REPORT_COMPONENT) if config.registry is not None else None
    if entry is None:
        raise config.error(
            "--report needs a plugin that writes reports: pip install 'pld-plugins[report]'",
            needs,
        )
    if needs not in config:
        raise config.error(f"--report needs a {needs!r} entry to report on", needs)
    return entry.factory()


def _record_scores(model: Any, result: FitResult, split: str, scores: dict[str, float]) -> None:
    for name, value in scores.items():
        logger.debug("%s %s: %.6f", split.capitalize(), name, value)
        result.scores[f"{split}_{name}"] = value
    # Palladium's keys hold the first scorer; every scorer is kept under its own name too.
    annotate(model, {f"score_{split}": next(iter(scores.values())), f"scores_{split}": scores})


def report(result: FitResult, options: dict[str, Any], echo: Any) -> None:
    """What ``pld fit`` prints: the scores, then what was written and activated."""
    for name, value in result.scores.items():
        echo(f"{name}: {value:.6f}")
    if result.skipped_reason:
        echo(result.skipped_reason.capitalize() + ".")
    if result.version is not None:
        echo(f"Wrote model with version {result.version}.")
    if result.rollout is not None:
        echo(f"Rollout: {result.rollout['decision']} ({result.rollout['reason']}).")
    if result.activated:
        echo(f"Activated model with version {result.version}.")
    if result.report is not None:
        echo(f"Wrote report to {result.report}.")


#: ``pld fit`` and the ``/fit`` endpoint (Palladium's parameter names over HTTP).
FIT_TASK = Task(
    name="fit",
    run=fit,
    help="Fit the model from dataset_loader_train and store it as a new version.",
    options=(
        Option(
            "persist",
            default=True,
            negates=True,
            flags=("--no-save", "-n"),
            help="Fit (and evaluate) without persisting.",
        ),
        Option(
            "activate",
            default=True,
            negates=True,
            flags=("--no-activate",),
            help="Persist the new version without activating it.",
        ),
        Option(
            "evaluate",
            default=False,
            flags=("--evaluate", "-e"),
            help="Score on the train and test data.",
        ),
        Option(
            "persist_if_better_than",
            kind=float,
            flags=("--save-if-better-than",),  # Palladium's spelling
            hidden_flags=("--persist-if-better-than",),
            metavar="SCORE",
            help="Persist only if the test score is at least SCORE (implies --evaluate).",
        ),
        Option(
            "activate_if_better",
            flags=("--activate-if-better",),
            help="Store the new version, but activate it only if its test score beats the "
            "active version's on the same test data (implies --evaluate).",
        ),
        Option(
            "margin",
            kind=float,
            flags=("--margin",),
            metavar="M",
            help="With --activate-if-better: the candidate must be better by more than M.",
        ),
        Option(
            "report",
            kind=str,
            flags=("--report",),
            metavar="FILE",
            http=False,
            help="Write an HTML report with plots on the test data to FILE (implies --evaluate).",
        ),
    ),
    report=report,
    http_decorators="server_fit_decorators",
)


@dataclass
class TestResult:
    """The version tested and its scores by scorer name."""

    __test__ = False  # not a pytest test class

    version: Any
    scores: dict[str, float]
    report: str | None = None

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary, e.g. for a ``/test`` job record."""
        return {"version": self.version, "scores": self.scores}


def test(config: Config, model_version: int | None = None, report: str | None = None) -> TestResult:
    """Score ``model_version`` (the active model when ``None``) on ``dataset_loader_test``.

    ``report``: a file path to write the HTML report (scores, plots, every version) to.
    """
    reporter = _reporter(config, "dataset_loader_test") if report else None
    with timer(logger, "Loading test data"):
        X, y = load_data(config, "dataset_loader_test")
    with timer(logger, "Reading model"):
        model = read_model(config, model_version)
    version = (getattr(model, "__metadata__", None) or {}).get("version", model_version)
    logger.info("Loaded model version %s", version)
    chosen = scorers(config, model)
    with timer(logger, "Scoring"):
        scores = {name: float(scorer(model, X, y)) for name, scorer in chosen.items()}
    if reporter is not None and report:
        with timer(logger, "Writing report"):
            reporter.model(report, config=config, model=model, X=X, y=y)
    return TestResult(version=version, scores=scores, report=report)


def test_report(result: TestResult, options: dict[str, Any], echo: Any) -> None:
    """What ``pld test`` prints: the version, then each score."""
    echo(f"Model version {result.version}:")
    for name, value in result.scores.items():
        echo(f"  {name}: {value:.6f}")
    if result.report is not None:
        echo(f"Wrote report to {result.report}.")


#: ``pld test`` (and an endpoint, if a ``url-rule`` names it).
TEST_TASK = Task(
    name="test",
    run=test,
    help="Score a stored model on dataset_loader_test.",
    options=(
        Option(
            "model_version",
            kind=int,
            metavar="VERSION",
            parse=to_version,
            help="The version to test. Default: the active one.",
        ),
        Option(
            "report",
            kind=str,
            flags=("--report",),
            metavar="FILE",
            http=False,
            help="Write an HTML report with plots (and every version's scores) to FILE.",
        ),
    ),
    report=test_report,
    http_decorators="server_test_decorators",
)


@hookimpl
def pld_register_tasks(register: Callable[..., None]) -> None:
    register(FIT_TASK)
    register(TEST_TASK)
    register_rollout_tasks(register)
