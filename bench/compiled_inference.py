"""In-process single-row GET: the raw app, pld serving the Python model, pld serving its ONNX form.

Calls each WSGI app in-process (no server, no network: what the app itself spends per
request) for the iris LogisticRegression: bench/raw_app.py (hand-written Werkzeug, calling
scikit-learn's ``predict``), pld with ``compiled_inference`` writing a verified ONNX form but
``'serve': False`` (scikit-learn answers), and pld serving the ONNX form with onnxruntime.
The three run in interleaved rounds (A, B, C, A, B, C...) so a busy machine slows all alike;
it reports the median time per request of each, in µs, and pld's ratios to the raw app. Also
the model call alone: scikit-learn's ``predict`` against the ONNX session's ``run``.

    python bench/compiled_inference.py [--rounds 15] [--requests 2000]

Needs ``pip install 'pld-plugins[onnx]'``. From another script: ``in_process_get_times()``.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import pickle
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from serving import CONFIG, FIELDS, QUERY  # noqa: E402

RAW, PYTHON, ONNX = "raw app", "pld (sklearn)", "pld (onnx)"


def build_apps(folder: Path) -> dict[str, Any]:
    """Fit once with compiled inference on; the three WSGI apps serving that version."""
    from pld_core import create_app, fit, load_config

    data = REPO / "examples" / "iris" / "iris.data"
    text = CONFIG % {"data": str(data), "mapping": [(name, "float") for name in FIELDS]}
    apps: dict[str, Any] = {}
    for name, entry in ((ONNX, "{'enabled': True}"), (PYTHON, "{'enabled': True, 'serve': False}")):
        path = folder / ("serve-onnx.py" if name == ONNX else "serve-python.py")
        path.write_text(text.rstrip()[:-1] + f"\n    'compiled_inference': {entry},\n}}")
        if not (folder / "models.db").exists():
            fit(load_config(str(path), __mode__="fit"))
        apps[name] = create_app(load_config(str(path)))
    served = {name: app.models.served_by() for name, app in apps.items()}
    if served != {ONNX: "onnx", PYTHON: "python"}:
        raise RuntimeError(f"the apps do not serve what they should: {served}")
    model = load_config(str(folder / "serve-python.py"), __mode__="fit")["model_persister"].read()
    raw_path = folder / "model.pickle"
    raw_path.write_bytes(pickle.dumps(model))
    os.environ["RAW_MODEL_PATH"] = str(raw_path)
    apps[RAW] = importlib.import_module("raw_app").app
    return {name: apps[name] for name in (RAW, PYTHON, ONNX)}


def _get_environ() -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    return EnvironBuilder(path="/predict", query_string=QUERY).get_environ()


def per_request(app: Callable[..., Any], n: int) -> float:
    """Microseconds per single-row GET of ``app``, over ``n`` requests."""
    environ = _get_environ()
    statuses: list[str] = []

    def start_response(status: str, headers: object) -> None:
        statuses.append(status)

    start = time.perf_counter()
    for _ in range(n):
        environ["wsgi.input"] = io.BytesIO(b"")
        b"".join(app(environ, start_response))
    elapsed = time.perf_counter() - start
    if not all(status.startswith("200") for status in statuses):
        raise RuntimeError(f"{app!r} answered {statuses[0]}")
    return elapsed / n * 1e6


def in_process_get_times(rounds: int = 15, requests: int = 2000) -> dict[str, float]:
    """Median µs per in-process single-row GET: raw app, pld (sklearn), pld (onnx)."""
    with tempfile.TemporaryDirectory() as tmp:
        apps = build_apps(Path(tmp))
        for app in apps.values():  # warm: first-call costs are not what is measured
            per_request(app, 200)
        times: dict[str, list[float]] = {name: [] for name in apps}
        for _ in range(rounds):
            for name, app in apps.items():
                times[name].append(per_request(app, requests))
        for app in apps.values():
            stop = getattr(getattr(app, "models", None), "persister", None)
            getattr(stop, "stop", lambda: None)()
    return {name: statistics.median(values) for name, values in times.items()}


def model_call_times(folder: Path) -> dict[str, float]:
    """Median µs of the model call alone on one row: scikit-learn, the ONNX session."""
    import base64

    import numpy

    from pld_core import load_config
    from pld_plugins.compiled.onnx import OnnxModel

    model = load_config(str(folder / "serve-onnx.py"), __mode__="fit")["model_persister"].read()
    metadata = model.__metadata__
    data = base64.b64decode(metadata["attachments/model.onnx"])
    served = OnnxModel.load(model, data, metadata["compiled"]["outputs"], 1)
    X = numpy.array([[6.3, 2.5, 4.9, 1.5]])
    n, result = 5000, {}
    for name, call in (("sklearn predict", model.predict), ("onnx predict", served.predict)):
        result[name] = statistics.median(
            timeit.timeit(lambda call=call: call(X), number=n) / n * 1e6 for _ in range(7)
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    times = in_process_get_times(args.rounds, args.requests)
    raw = times[RAW]
    print(f"in-process single-row GET, median of {args.rounds} interleaved rounds:")
    print(f"{'app':<15} {'µs/request':>11} {'× raw app':>10}")
    for name, value in times.items():
        print(f"{name:<15} {value:>11.1f} {value / raw:>10.3f}")
    print(f"pld (onnx) / pld (sklearn): {times[ONNX] / times[PYTHON]:.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        build_apps(Path(tmp))  # the stored version, for the model call alone
        calls = model_call_times(Path(tmp))
    print(", ".join(f"{name} {value:.1f} µs" for name, value in calls.items()))


if __name__ == "__main__":
    main()
