"""Pick the scorer for evaluation: the config's ``scoring`` entry, else the model's ``score``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pld_core.config import Config

Scorer = Callable[[Any, Any, Any], float]


def _model_score(model: Any, X: Any, y: Any) -> float:
    return float(model.score(X, y))


def scorers(config: Config, model: Any) -> dict[str, Scorer]:
    """Name → scorer for this config and model.

    ``scoring`` may be a scorer name, a callable ``scorer(model, X, y)``, or a dict of
    name → either. Without it, the model's own ``score`` method is used.
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
            str(name): _make(config, value, f"scoring.{name}") for name, value in scoring.items()
        }
    name = scoring if isinstance(scoring, str) else getattr(scoring, "__name__", "score")
    return {name: _make(config, scoring, "scoring")}


def _make(config: Config, scoring: Any, key: str) -> Scorer:
    scorer = config.plugins.hook.pld_make_scorer(scoring=scoring) if config.plugins else None
    if scorer is None:
        raise config.error(f"unknown scorer {scoring!r} (no installed plugin knows it)", key)
    return scorer
