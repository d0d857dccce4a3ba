"""A predict service with a planted bug: ``pld check-api`` must find it (test_check_api.py).

It checks the petal ratio of each sample the way a hurried feature step would: dividing by the
petal width, which a client may send as 0. That one input raises ZeroDivisionError: a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pld_plugins.predict import PredictService


class PetalRatioService(PredictService):
    """Refuses nothing, but divides by ``petal width``: 0 is the planted bug."""

    def model_input(
        self, model: Any, records: list[Any], query: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        X, params = super().model_input(model, records, query)
        for row in X:
            if float(row[2]) / float(row[3]) > 1e6:  # ZeroDivisionError when petal width is 0
                raise ValueError("petal ratio out of range")
        return X, params
