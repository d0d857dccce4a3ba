"""What pld's input check costs per request, and what skipping scikit-learn's own check saves.

Calls pld's WSGI app in-process (no server, no network: the part of a request pld itself
spends, so the check's share here is an upper bound of its share over HTTP) for the iris
LogisticRegression, with ``input_checks`` on and off, in interleaved rounds so that a busy
machine slows both alike. Reports the median time per request of each and their ratio for a
one-row GET and a 1,000-row POST; and for the model call alone on 1,000 rows, scikit-learn
with and without its finiteness check (``assume_finite``).

    python bench/input_checks.py [--rounds 15] [--requests 2000]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from serving import CONFIG, FIELDS, QUERY  # noqa: E402

SAMPLE = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}


def _app(folder: Path, checks: bool) -> object:
    from pld_core import create_app, fit, load_config

    data = REPO / "examples" / "iris" / "iris.data"
    mapping = [(name, "float") for name in FIELDS]
    text = CONFIG % {"data": str(data), "mapping": mapping}
    if not checks:
        text = text.rstrip()[:-1] + "\n    'input_checks': {'enabled': False},\n}"
    path = folder / ("on.py" if checks else "off.py")
    path.write_text(text)
    if not (folder / "models.db").exists():
        fit(load_config(str(path), __mode__="fit"))
    return create_app(load_config(str(path)))


def _environ(method: str, body: bytes = b"") -> dict[str, object]:
    from werkzeug.test import EnvironBuilder

    if method == "GET":
        return EnvironBuilder(path="/predict", query_string=QUERY).get_environ()
    return EnvironBuilder(
        path="/predict", method="POST", data=body, content_type="application/json"
    ).get_environ()


def _per_request(app: object, environ: dict[str, object], n: int) -> float:
    body = environ.get("wsgi.input")
    data = body.read() if body is not None else b""  # type: ignore[attr-defined]
    statuses: list[str] = []

    def start_response(status: str, headers: object) -> None:
        statuses.append(status)

    start = time.perf_counter()
    for _ in range(n):
        environ["wsgi.input"] = io.BytesIO(data)
        b"".join(app(environ, start_response))  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    assert all(status.startswith("200") for status in statuses), statuses[:1]
    return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        apps = {"on": _app(folder, True), "off": _app(folder, False)}
        post = json.dumps([SAMPLE] * 1000).encode()
        cases = [("GET 1 row", "GET", b"", args.requests), ("POST 1000 rows", "POST", post, 200)]
        print(f"{'case':<16} {'checks on µs':>13} {'checks off µs':>14} {'on/off':>7}")
        for name, method, body, n in cases:
            times: dict[str, list[float]] = {"on": [], "off": []}
            for _ in range(args.rounds):
                for which, app in apps.items():
                    times[which].append(_per_request(app, _environ(method, body), n))
            on, off = statistics.median(times["on"]), statistics.median(times["off"])
            print(f"{name:<16} {on:>13.1f} {off:>14.1f} {on / off:>7.3f}")
        _model_call(folder)


def _model_call(folder: Path) -> None:
    """The model call on 1,000 rows and on 1 row, with and without scikit-learn's check."""
    import numpy

    from pld_core import load_config

    model = load_config(str(folder / "on.py"), __mode__="fit")["model_persister"].read()
    for rows in (1, 1000):
        X = numpy.array([[SAMPLE[name] for name in FIELDS]] * rows)
        n = 20000 if rows == 1 else 3000
        checked, trusted = [], []
        for _ in range(7):
            checked.append(timeit.timeit(lambda X=X: model.predict(X), number=n) / n * 1e6)
            trusted.append(timeit.timeit(lambda X=X: _trusted(model, X), number=n) / n * 1e6)
        with_check, without = statistics.median(checked), statistics.median(trusted)
        print(
            f"model.predict, {rows} row(s): scikit-learn's check {with_check:.1f} µs,"
            f" assume_finite {without:.1f} µs ({without / with_check:.3f}×)"
        )


def _trusted(model: object, X: object) -> object:
    import sklearn

    with sklearn.config_context(assume_finite=True):
        return model.predict(X)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
