"""In-process single-row GET: the raw app, pld serving the Python model, pld serving its ONNX form.

Calls each WSGI app in-process (no server, no network: what the app itself spends per
request) for the iris LogisticRegression: bench/raw_app.py (hand-written Werkzeug, calling
scikit-learn's ``predict``), and pld serving one stored version, written with
``compiled_inference`` on: as the scikit-learn model itself (``'serve': False``,
``'sklearn_direct': False``), through pld-plugins' ``sklearn_direct`` when that plugin is
installed (else this column is the first again), and as its verified ONNX form. The apps run
in interleaved rounds (A, B, C, D, A, B...) so a busy machine slows all alike; it reports the
median time per request of each, in µs of wall clock and of CPU time, and the ratios to the
raw app. Also the model call alone: scikit-learn's ``predict`` against the ONNX form's.

    python bench/compiled_inference.py [--rounds 15] [--requests 2000]

Instruction counts, which a busy machine does not change: fit once, then run one app under
callgrind with 0 and with N requests; (Ir(N) - Ir(0)) / N is its count per request:

    python bench/compiled_inference.py --prepare /tmp/ci
    valgrind --tool=callgrind python3 bench/compiled_inference.py --only onnx \\
        --folder /tmp/ci --requests 200        # and --requests 0; raw, python, direct, onnx

Needs ``pip install 'pld-plugins[onnx]'``. From another script: ``in_process_get_times()``
returns the median µs (``{"wall": ..., "cpu": ...}``) per app name.
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

from serving import FIELDS, QUERY  # noqa: E402

#: The iris service (as bench/serving.py's), with ``%(entries)s`` for each app's own entries.
CONFIG = """{
    'service_metadata': {'service_name': 'iris', 'service_version': '0.1'},
    'dataset_loader_train': {
        '!': 'table', 'path': %(data)r, 'sep': ',', 'nrows': 100,
        'names': ['sepal length', 'sepal width', 'petal length', 'petal width', 'species'],
        'target_column': 'species',
    },
    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3},
    'model_persister': {'!': 'cached-update',
                        'impl': {'!': 'database', 'url': 'sqlite:///' + here + '/models.db'}},
    'predict_service': {'!': 'predict-service', 'mapping': %(mapping)r},
    'logging': {'version': 1, 'disable_existing_loggers': False,
                'root': {'level': 'WARNING'}},
    %(entries)s,
}"""

RAW, PYTHON, DIRECT, ONNX = "raw app", "pld (sklearn)", "pld (sklearn-direct)", "pld (onnx)"
#: The pld apps: the config entries each adds. All serve one version, written with its ONNX form.
VARIANTS = {
    PYTHON: "'compiled_inference': {'enabled': True, 'serve': False}, 'sklearn_direct': False",
    DIRECT: "'compiled_inference': {'enabled': True, 'serve': False}",
    ONNX: "'compiled_inference': {'enabled': True}",
}


def build_apps(folder: Path) -> dict[str, Any]:
    """Fit once with compiled inference on; the WSGI apps serving that version, and the raw
    app serving the same scikit-learn model."""
    from pld_core import create_app, fit, load_config

    data = REPO / "examples" / "iris" / "iris.data"
    mapping = [(name, "float") for name in FIELDS]
    apps: dict[str, Any] = {}
    for number, (name, entries) in enumerate(VARIANTS.items()):
        path = folder / f"serve-{number}.py"  # not onnx.py: the config's folder is on sys.path
        path.write_text(CONFIG % {"data": str(data), "mapping": mapping, "entries": entries})
        if not (folder / "models.db").exists():
            fit(load_config(str(path), __mode__="fit"))
        apps[name] = create_app(load_config(str(path)))
    model = load_config(str(folder / "serve-0.py"), __mode__="fit")["model_persister"].read()
    raw_path = folder / "model.pickle"
    raw_path.write_bytes(pickle.dumps(model))
    os.environ["RAW_MODEL_PATH"] = str(raw_path)
    apps[RAW] = importlib.import_module("raw_app").app
    return {name: apps[name] for name in (RAW, *VARIANTS)}


def served_by(app: Any) -> str:
    """What predicts in ``app``: ``raw`` for the raw app, else ``/alive``'s ``served_by``."""
    models = getattr(app, "models", None)
    return str(models.served_by()) if models is not None else "raw"


def _get_environ() -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    return EnvironBuilder(path="/predict", query_string=QUERY).get_environ()


def per_request(app: Callable[..., Any], n: int) -> tuple[float, float]:
    """Microseconds per single-row GET of ``app`` over ``n`` requests: wall clock, and CPU
    time of this process (onnxruntime runs in the calling thread with ``threads`` 1)."""
    environ = _get_environ()
    statuses: list[str] = []

    def start_response(status: str, headers: object) -> None:
        statuses.append(status)

    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        environ["wsgi.input"] = io.BytesIO(b"")
        b"".join(app(environ, start_response))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if not all(status.startswith("200") for status in statuses):
        raise RuntimeError(f"{app!r} answered {statuses[0]}")
    return elapsed / n * 1e6, cpu / n * 1e6


def in_process_get_times(rounds: int = 15, requests: int = 2000) -> dict[str, dict[str, float]]:
    """Median µs per in-process single-row GET, ``{"wall": ..., "cpu": ...}`` by app: the raw
    app, pld serving the scikit-learn model as it is, through ``sklearn_direct`` (when
    installed), and its ONNX form."""
    with tempfile.TemporaryDirectory() as tmp:
        apps = build_apps(Path(tmp))
        if served_by(apps[ONNX]) != "onnx" or served_by(apps[PYTHON]) != "python":
            raise RuntimeError({name: served_by(app) for name, app in apps.items()})
        for app in apps.values():  # warm: first-call costs are not what is measured
            per_request(app, 200)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in apps}
        for _ in range(rounds):
            for name, app in apps.items():
                times[name].append(per_request(app, requests))
        for app in apps.values():
            stop = getattr(getattr(app, "models", None), "persister", None)
            getattr(stop, "stop", lambda: None)()
    return {
        name: {
            "wall": statistics.median(wall for wall, _ in values),
            "cpu": statistics.median(cpu for _, cpu in values),
        }
        for name, values in times.items()
    }


def model_call_times(folder: Path) -> dict[str, float]:
    """Median µs of the model call alone on one row: scikit-learn, the ONNX session."""
    import base64

    import numpy

    from pld_core import load_config
    from pld_plugins.compiled.onnx import OnnxModel

    model = load_config(str(folder / "serve-0.py"), __mode__="fit")["model_persister"].read()
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


#: ``--only`` names: the apps, and what each must be served by.
ONLY = {
    "raw": (RAW, "raw"),
    "python": (PYTHON, "python"),
    "direct": (DIRECT, "sklearn-direct"),
    "onnx": (ONNX, "onnx"),
}


def one_app(folder: Path, which: str) -> Any:
    """One app of a folder ``build_apps`` filled, loaded alone (for callgrind)."""
    from pld_core import create_app, load_config

    name, expected = ONLY[which]
    if name == RAW:
        os.environ["RAW_MODEL_PATH"] = str(folder / "model.pickle")
        return importlib.import_module("raw_app").app
    app = create_app(load_config(str(folder / f"serve-{list(VARIANTS).index(name)}.py")))
    if served_by(app) != expected:
        raise RuntimeError(f"{name} is served by {served_by(app)}, not {expected}")
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--prepare", type=Path, help="Fit into this folder and stop.")
    parser.add_argument("--only", choices=sorted(ONLY), help="Run one app (with --folder).")
    parser.add_argument("--folder", type=Path, help="A folder --prepare filled.")
    args = parser.parse_args()
    if args.prepare:
        args.prepare.mkdir(parents=True, exist_ok=True)
        build_apps(args.prepare)
        return
    if args.only:
        app = one_app(args.folder, args.only)
        per_request(app, 20)  # warm
        if args.requests:
            per_request(app, args.requests)
        return
    times = in_process_get_times(args.rounds, args.requests)
    raw = times[RAW]
    print(f"in-process single-row GET, median of {args.rounds} interleaved rounds:")
    print(f"{'app':<21} {'wall µs':>8} {'× raw':>6} {'CPU µs':>8} {'× raw':>6}")
    for name, value in times.items():
        wall, cpu = value["wall"], value["cpu"]
        ratios = wall / raw["wall"], cpu / raw["cpu"]
        print(f"{name:<21} {wall:>8.1f} {ratios[0]:>6.3f} {cpu:>8.1f} {ratios[1]:>6.3f}")
    print(f"pld (onnx) / pld (sklearn), CPU: {times[ONNX]['cpu'] / times[PYTHON]['cpu']:.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        build_apps(Path(tmp))  # the stored version, for the model call alone
        calls = model_call_times(Path(tmp))
    print("model call alone, one row: " + ", ".join(f"{k} {v:.1f} µs" for k, v in calls.items()))


if __name__ == "__main__":
    main()
