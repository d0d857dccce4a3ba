"""``pld stream``: JSON lines in, predictions out, through the same predict path as HTTP.

Each input line is a JSON list of sample objects; each output line is the compact JSON list of
their predictions. A bad line is reported on stderr (and answered with ``[]`` so output lines
stay aligned with input lines); the stream goes on. ``exit`` or end of input stops it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

from pld_core.config import Config
from pld_core.interfaces import PredictService
from pld_core.model_source import ModelSource


def _compact(value: Any) -> str:
    tolist = getattr(value, "tolist", None)
    return json.dumps(tolist() if callable(tolist) else list(value), separators=(",", ":"))


def records_predictor(config: Config, service_key: str) -> Callable[..., Any]:
    """The ``predict_records`` of the predict service at ``service_key``: the shared path.

    A service without one can answer HTTP only, which is a config error for streams and
    batch files.
    """
    service = config[service_key]
    own = getattr(type(service), "predict_records", None)
    if not callable(own) or own is PredictService.predict_records:
        raise config.error(
            "this predict service answers HTTP only (it has no predict_records)", service_key
        )
    method: Callable[..., Any] = service.predict_records
    return method


class PredictStream:
    """Answer JSON lines with the config's predict service and the active model."""

    def __init__(self, config: Config, service_key: str = "predict_service"):
        self.predict_records = records_predictor(config, service_key)
        self.models = ModelSource(config)

    def process_line(self, line: str) -> str:
        """The output line for one input line; raises on a bad line."""
        model = self.models.get()
        if model is None:
            raise LookupError("no model is available to predict with")
        return _compact(self.predict_records(model, json.loads(line), {}))

    def listen(self, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
        """Process lines until ``exit`` or end of input; return the number of bad lines."""
        bad = 0
        for line in stdin:
            if line.strip().lower() == "exit":
                break
            if not line.strip():
                continue
            try:
                answer = self.process_line(line)
            except Exception as exc:
                bad += 1
                stderr.write(
                    f"Error while processing input row: {line.strip()[:200]}: "
                    f"{type(exc).__name__}: {exc}\n"
                )
                stderr.flush()
                answer = "[]"
            stdout.write(answer + "\n")
            stdout.flush()
        return bad
