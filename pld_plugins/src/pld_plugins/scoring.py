"""scikit-learn scorer names for the ``scoring`` config entry: ``"accuracy"``, ``"f1_macro"``..."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pld_core import hookimpl


@hookimpl
def pld_make_scorer(scoring: Any) -> Callable[[Any, Any, Any], float] | None:
    if not isinstance(scoring, str):
        return None  # callables are used as they are by pld-core's fallback
    from sklearn.metrics import get_scorer, get_scorer_names

    if scoring not in get_scorer_names():
        return None
    scorer: Callable[[Any, Any, Any], float] = get_scorer(scoring)
    return scorer
