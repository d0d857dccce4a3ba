"""A predict service with a planted bug: ``pld check-api`` must find it (test_check_api.py).

It logs the petal ratio of each sample the way a hurried feature step would: dividing by the
petal width, which a client may send as 0. That one input raises ZeroDivisionError: a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pld_plugins.predict import PredictService

logger = logging.getLogger(__name__)


class PetalRatioService(PredictService):
    """Divides by ``petal width`` for every sample: 0 is the planted bug."""

    def model_input(
        self, model: Any, records: list[Any], query: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        X, params = super().model_input(model, records, query)
        ratios = [float(row[2]) / float(row[3]) for row in X]  # ZeroDivisionError for width 0
        logger.debug("petal ratios: %s", ratios)
        return X, params
