"""``pld stream``: JSON lines in, predictions out, through the one predict path.

Each input line is a JSON list of sample objects; each output line is the compact JSON list of
their predictions. A bad line is reported on stderr with the same message HTTP would answer
(and answered with ``[]`` so output lines stay aligned with input lines); the stream goes on.
``exit`` or end of input stops it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

import click

from pld_core import (
    Config,
    ModelSource,
    PredictPath,
    command_config,
    common_options,
    encode_text,
    error_text,
    hookimpl,
    make_predict_path,
    parse_json,
)


class PredictStream:
    """Answer JSON lines with the config's predict service and the active model."""

    def __init__(self, config: Config, service_key: str = "predict_service"):
        self.path: PredictPath = make_predict_path(config, service_key, ModelSource(config))

    def process_line(self, line: str) -> str:
        """The output line for one input line; raises on a bad line."""
        return encode_text(self.path.predict(parse_json(line)))

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
                    f"Error while processing input row: {line.strip()[:200]}: {error_text(exc)}\n"
                )
                stderr.flush()
                answer = "[]"
            stdout.write(answer + "\n")
            stdout.flush()
        return bad


@click.command("stream")
@common_options
@click.option(
    "--service",
    default="predict_service",
    show_default=True,
    help="The config entry of the predict service to use.",
)
def stream_command(service: str) -> None:
    """Predict for JSON lines on stdin (each a list of objects); answer JSON lines on stdout."""
    stream = PredictStream(command_config(mode=None), service)
    stream.listen(sys.stdin, sys.stdout, sys.stderr)


@hookimpl
def pld_register_commands(register: Callable[..., None]) -> None:
    register(stream_command)
