"""Warm-up: sample predictions a model must answer before a caching persister serves it.

A version that loads but cannot predict (a missing dependency, a model pickled against other
code, a bug in a custom ``predict``) would otherwise answer every request with an error once
it is swapped in. The cached persister runs these predictions first and keeps serving the
old version when they fail.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pld_core import Config, ConfigError, PldError

__all__ = ["WarmUp", "WarmUpError"]

#: ``warm_up`` values that take the sample rows from ``dataset_loader_test``.
TEST_ROWS = (True, "test", "dataset_loader_test")


class WarmUpError(PldError):
    """A version failed its warm-up predictions; it is not served."""


class WarmUp:
    """Sample predictions from the test rows or from a JSON file of records.

    :param config: the served configuration (its ``dataset_loader_test`` or predict service).
    :param source: ``True`` or ``"test"``: the first ``rows`` of ``dataset_loader_test``; a
        path: a JSON list of records, as a ``POST /predict`` body, turned into model input by
        the predict service ``service_key``.
    :param rows: how many rows to predict.
    """

    def __init__(
        self, config: Config, source: Any, rows: int = 10, service_key: str = "predict_service"
    ) -> None:
        if rows < 1:
            raise ConfigError(f"warm_up_rows must be at least 1, not {rows}")
        if source not in TEST_ROWS and not isinstance(source, str):
            raise ConfigError(
                "warm_up must be true, 'test' or the path of a JSON file of records, "
                f"not {source!r}"
            )
        self.config = config
        self.source = source
        self.rows = rows
        self.service_key = service_key
        self._sample: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WarmUp({self.source!r}, rows={self.rows})"

    def check(self, model: Any) -> None:
        """Predict the sample with ``model``; raise :class:`WarmUpError` saying what failed."""
        version = (getattr(model, "__metadata__", None) or {}).get("version")
        service: Any = self.config.get(self.service_key)
        method = str(getattr(service, "method", "predict"))
        try:
            problem = service.check_model(model) if hasattr(service, "check_model") else None
            if problem:
                raise PldError(problem)
            X, params, expected = self._input(model, service)
            hooks = self.config.plugins.hook if self.config.plugins is not None else None
            if hooks is not None:
                predictions = hooks.pld_predict(model=model, X=X, method=method, params=params)
            else:
                predictions = getattr(model, method)(X, **params)
            got = len(predictions)
        except Exception as exc:
            raise WarmUpError(
                f"version {version} failed its warm-up ({self!r}): {type(exc).__name__}: {exc}"
            ) from exc
        if got != expected:
            raise WarmUpError(
                f"version {version} failed its warm-up: {got} predictions for {expected} rows"
            )

    def _input(self, model: Any, service: Any) -> tuple[Any, dict[str, Any], int]:
        if self.source in TEST_ROWS:
            X = self._test_rows()
            return X, {}, len(X)
        records = self._records()
        if service is None:
            raise ConfigError(f"warm_up from a file needs the predict service {self.service_key!r}")
        X, params = service.model_input(model, records, {})
        return X, dict(params), len(records)

    def _test_rows(self) -> Any:
        with self._lock:
            if self._sample is None:
                X, _y = self.config["dataset_loader_test"]()
                self._sample = X.iloc[: self.rows] if hasattr(X, "iloc") else X[: self.rows]
            return self._sample

    def _records(self) -> list[Any]:
        with self._lock:
            if self._sample is None:
                try:
                    records = json.loads(Path(self.source).read_text())
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"warm_up file {self.source!r}: {exc}") from None
                if not isinstance(records, list) or not records:
                    raise ConfigError(f"warm_up file {self.source!r} must hold a list of records")
                self._sample = records[: self.rows]
            return list(self._sample)
