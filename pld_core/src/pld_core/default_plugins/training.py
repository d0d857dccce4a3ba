"""Training and testing: the ``fit`` and ``test`` tasks (``pld fit``, ``pld test``; ``/fit``).

``fit`` loads the training data, fits the model, evaluates, persists and activates; ``test``
scores a stored version on the test data. Both go through the hooked steps of the public API
(``load_data``, ``fit_model``, ``read_model``, ``write_model``, ``scorers``).
"""

from __future__ import annotations

import gc
import logging
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
) -> FitResult:
    """Fit the configured model; persist and activate it unless told otherwise.

    ``persist_if_better_than`` implies ``evaluate`` and persists only when the test score is
    at least that value. ``activate_if_better`` implies ``evaluate`` too: the candidate is
    stored, and activated only when its test score beats the active version's by ``margin``.
    """
    run = decorate(_fit, config, "fit_decorators")
    options: dict[str, Any] = {}
    if activate_if_better:  # only when asked: fit_decorators written for Palladium still work
        options.update(activate_if_better=True, margin=margin or 0.0)
    return run(
        config,
        persist=persist,
        activate=activate and persist,
        evaluate=evaluate or persist_if_better_than is not None or bool(activate_if_better),
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
) -> FitResult:
    model = config["model"]
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
    with timer(logger, "Fitting model"):
        model = fit_model(config, model, X, y)
    annotate(model, training_metadata(model, X, config["dataset_loader_train"]))

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
            logger.info("Rollout: %s (%s)", result.rollout["decision"], result.rollout["reason"])

    if not persist:
        return result
    if persist_if_better_than is not None:
        test_score = next(iter(result.scores_for("test").values()))
        if test_score < persist_if_better_than:
            result.skipped_reason = (
                f"not persisting: test score {test_score:.4f} < {persist_if_better_than}"
            )
            logger.info(result.skipped_reason)
            return result
    # The activation history: the version this one would replace (``pld rollback``).
    annotate(model, {PREVIOUS_ACTIVE: active_version(config["model_persister"])})
    with timer(logger, "Writing model"):
        result.version = write_model(config, model)
    if result.rollout is not None and result.rollout["decision"] != "activate":
        activate = False
    if activate:
        config["model_persister"].activate(result.version)
        result.activated = True
    return result


def _record_scores(model: Any, result: FitResult, split: str, scores: dict[str, float]) -> None:
    for name, value in scores.items():
        logger.info("%s %s: %.6f", split.capitalize(), name, value)
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
            flags=("--save-if-better-than", "--persist-if-better-than"),
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

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary, e.g. for a ``/test`` job record."""
        return {"version": self.version, "scores": self.scores}


def test(config: Config, model_version: int | None = None) -> TestResult:
    """Score ``model_version`` (the active model when ``None``) on ``dataset_loader_test``."""
    with timer(logger, "Loading test data"):
        X, y = load_data(config, "dataset_loader_test")
    with timer(logger, "Reading model"):
        model = read_model(config, model_version)
    version = (getattr(model, "__metadata__", None) or {}).get("version", model_version)
    logger.info("Loaded model version %s", version)
    chosen = scorers(config, model)
    with timer(logger, "Scoring"):
        scores = {name: float(scorer(model, X, y)) for name, scorer in chosen.items()}
    return TestResult(version=version, scores=scores)


def test_report(result: TestResult, options: dict[str, Any], echo: Any) -> None:
    """What ``pld test`` prints: the version, then each score."""
    echo(f"Model version {result.version}:")
    for name, value in result.scores.items():
        echo(f"  {name}: {value:.6f}")


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
    ),
    report=test_report,
    http_decorators="server_test_decorators",
)


@hookimpl
def pld_register_tasks(register: Callable[..., None]) -> None:
    register(FIT_TASK)
    register(TEST_TASK)
    register_rollout_tasks(register)
