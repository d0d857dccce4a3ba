"""How long the service page at ``/`` takes to render with many stored versions.

Stores ``--versions`` versions of the iris LogisticRegression (one fit, then the model written
again with different scores, as ``pld fit`` would write them) in a File store and in a SQLite
Database store, then calls the WSGI app in-process (no server, no network) for ``GET /`` and
reports the median and 95th percentile per render. The page asks the store for its versions
on every render, so this is the store's listing plus the HTML. Target: ≤ 50 ms at 100 versions.

    python bench/page.py [--versions 100] [--requests 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 50.0

CONFIG = """{
    'service_metadata': {'service_name': 'iris', 'service_version': '0.1'},
    'dataset_loader_train': {
        '!': 'table', 'path': %(data)r, 'sep': ',', 'nrows': 100,
        'names': ['sepal length', 'sepal width', 'petal length', 'petal width', 'species'],
        'target_column': 'species',
    },
    'dataset_loader_test': {'__copy__': 'dataset_loader_train', 'nrows': None, 'skiprows': 100},
    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3},
    'model_persister': %(persister)s,
    'predict_service': {
        '!': 'predict-service',
        'mapping': [('sepal length', 'float'), ('sepal width', 'float'),
                    ('petal length', 'float'), ('petal width', 'float')],
    },
}"""
STORES = {
    "file": "{'!': 'file', 'path': here + '/model-{version}'}",
    "database": "{'!': 'database', 'url': 'sqlite:///' + here + '/models.db'}",
}


def _app(folder: Path, store: str, versions: int) -> object:
    from pld_core import annotate, create_app, fit, load_config, write_model

    data = REPO / "examples" / "iris" / "iris.data"
    path = folder / "config.py"
    path.write_text(CONFIG % {"data": str(data), "persister": STORES[store]})
    config = load_config(str(path), __mode__="fit")
    model = fit(config, evaluate=True).model
    for index in range(1, versions):
        annotate(model, {"score_test": 0.9 + index / 10_000, "fit_seconds": 0.05})
        write_model(config, model)
    config["model_persister"].activate(versions)
    return create_app(load_config(str(path)))


def _renders(app: object, requests: int, versions: int) -> list[float]:
    from werkzeug.test import Client

    client = Client(app)  # type: ignore[arg-type]
    first = client.get("/").get_data(as_text=True)
    assert f"<h2>Versions ({versions})</h2>" in first, "the page does not list every version"
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get("/")
        response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    worst = 0.0
    for store in STORES:
        with tempfile.TemporaryDirectory() as folder:
            app = _app(Path(folder), store, args.versions)
            times = sorted(_renders(app, args.requests, args.versions))
            median = statistics.median(times)
            p95 = times[int(0.95 * (len(times) - 1))]
            worst = max(worst, median)
            print(
                f"{store:9s} {args.versions} versions: page render median {median:.2f} ms, "
                f"p95 {p95:.2f} ms ({args.requests} renders)"
            )
    verdict = "within" if worst <= TARGET_MS else "OVER"
    print(f"target ≤ {TARGET_MS:.0f} ms (median): {verdict}")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
