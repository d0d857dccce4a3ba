"""scikit-learn models served without scikit-learn's per-call input validation, verified once.

Most of the time of a one-row ``predict`` of a fitted scikit-learn estimator is validation
(dataframe detection, ``check_array``, feature-name checks): for iris' LogisticRegression
~95 % of the call, where the arithmetic is one small matrix product. pld has already checked
the input against the version's schema, so the served model checks only what its arithmetic
needs — a finite float64 table with the trained number of columns — and otherwise hands the
input to the estimator's own method.

When a model is loaded for serving (``pld_serve_model``, never per request), a
:class:`DirectModel` is built for the estimator families below, from their fitted attributes
and scikit-learn's own functions, and **verified**: on rows drawn across (and beyond) the
training range stored in the version's input schema, its labels must equal the estimator's and
its numbers match within ``RTOL``. Anything else — another estimator, a pipeline, a model
without a numeric input schema, a failed verification — is served as it is.

Families: linear classifiers and regressors (``coef_``/``intercept_``: LogisticRegression,
RidgeClassifier, SGD*, Perceptron, LinearSVC, LinearRegression, Ridge, Lasso, ElasticNet...),
decision trees (their own ``check_input=False``) and random / extra trees forests (their trees
with ``check_input=False``, without the joblib dispatch).

Switch it off with ``'sklearn_direct': False`` in the config. ``/alive`` and the served
object's ``served_by`` say ``sklearn-direct`` while it serves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pld_core import hookimpl

__all__ = ["KEY", "SERVED_BY", "pld_serve_model"]

logger = logging.getLogger(__name__)

KEY = "sklearn_direct"
#: What ``/alive`` says while a direct form serves (also ``DirectModel.served_by``).
SERVED_BY = "sklearn-direct"


@hookimpl(trylast=True)
def pld_serve_model(model: Any, config: Any) -> Any:
    """A verified :class:`DirectModel` for a known scikit-learn estimator; else ``None``."""
    if not _enabled(config):
        return None
    version = (getattr(model, "__metadata__", None) or {}).get("version")
    try:
        from pld_plugins.sklearn_direct.direct import direct_model  # numpy: not at start-up

        served = direct_model(model)
    except Exception as exc:  # a model we misjudged: it serves itself
        logger.info("model version %s: served as it is (%s: %s)", version, type(exc).__name__, exc)
        return None
    if served is not None:
        logger.info("model version %s: served without scikit-learn's re-validation", version)
    return served


def _enabled(config: Any) -> bool:
    given = config.get(KEY, True) if config is not None else True
    if isinstance(given, Mapping):
        given = given.get("enabled", True)
    if not isinstance(given, bool):
        raise config.error(f"must be True or False, not {given!r}", KEY)
    return given
