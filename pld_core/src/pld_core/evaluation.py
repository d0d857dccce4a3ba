"""``pld test``: score a stored model version on the test dataset."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pld_core import steps
from pld_core.config import Config
from pld_core.scoring import scorers
from pld_core.timing import timer

logger = logging.getLogger(__name__)


@dataclass
class TestResult:
    """The version tested and its scores by scorer name."""

    __test__ = False  # not a pytest test class

    version: Any
    scores: dict[str, float]


def test(config: Config, model_version: int | None = None) -> TestResult:
    """Score ``model_version`` (the active model when ``None``) on ``dataset_loader_test``."""
    with timer(logger, "Loading test data"):
        X, y = steps.load_data(config, "dataset_loader_test")
    with timer(logger, "Reading model"):
        model = steps.read_model(config, model_version)
    version = (getattr(model, "__metadata__", None) or {}).get("version", model_version)
    logger.info("Loaded model version %s", version)
    chosen = scorers(config, model)
    with timer(logger, "Scoring"):
        scores = {name: float(scorer(model, X, y)) for name, scorer in chosen.items()}
    return TestResult(version=version, scores=scores)
