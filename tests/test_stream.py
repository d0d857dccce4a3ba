"""``pld stream`` answers JSON lines as ``/predict`` answers POSTs, and survives bad lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from werkzeug.test import Client

from pld_core import create_app, load_config

SAMPLES = [
    [{"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}],
    [
        {"sepal length": 5.1, "sepal width": 3.5, "petal length": 1.4, "petal width": 0.2},
        {"sepal length": 7.7, "sepal width": 3.0, "petal length": 6.1, "petal width": 2.3},
        {"sepal length": 5.7, "sepal width": 2.8, "petal length": 4.1, "petal width": 1.3},
    ],
]
BAD_LINES = ["not json", '[{"sepal length": 1}]', "{}"]


def test_stream_matches_predict_and_survives_bad_lines(fitted_iris):
    client = Client(create_app(load_config(str(fitted_iris))))
    expected = [client.post("/predict", json=batch).json["result"] for batch in SAMPLES]

    lines = [
        json.dumps(SAMPLES[0]),
        *BAD_LINES,
        json.dumps(SAMPLES[1]),
        "exit",
        json.dumps(SAMPLES[0]),
    ]
    env = {k: v for k, v in os.environ.items() if k != "PALLADIUM_CONFIG"}
    env["PLD_CONFIG"] = str(fitted_iris)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "pld-stream")],
        input="\n".join(lines) + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    outputs = result.stdout.splitlines()
    assert outputs == [
        json.dumps(expected[0], separators=(",", ":")),
        "[]",
        "[]",
        "[]",
        json.dumps(expected[1], separators=(",", ":")),
    ]  # nothing after "exit"
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error while")]
    assert len(errors) == 3
    assert "BadRequest: the line is not valid JSON" in errors[0]
    assert "missing parameter 'sepal width'" in errors[1]
    assert "non-empty JSON list" in errors[2]
