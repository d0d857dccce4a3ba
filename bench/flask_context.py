"""What the Flask request context costs a prediction (issue 17).

When the user's code imports flask, every request becomes a ``flask.Request`` answered inside
a Flask request context, so Palladium's decorators can read ``flask.request``. This measures
GET /predict on the iris model through Werkzeug's test client (no network) in three fresh
processes: flask never imported, flask imported (the context is pushed), and flask imported
with the seed's Basic Auth decorator reading ``flask.request.authorization``. It prints the
median time per request over ``--runs`` rounds of ``--requests`` requests, in CPU time of the
process (less disturbed by a loaded machine than wall time).

    python bench/flask_context.py [--requests 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IRIS = ROOT / "examples" / "iris" / "iris.data"

CONFIG = """{
    'dataset_loader_train': {
        '!': 'table', 'path': %(data)r, 'sep': ',', 'nrows': 100,
        'names': ['sepal length', 'sepal width', 'petal length', 'petal width', 'species'],
        'target_column': 'species',
    },
    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3},
    'model_persister': {'!': 'file', 'path': here + '/model-{version}'},
    'predict_service': {
        '!': 'predict-service',
        'mapping': [('sepal length', 'float'), ('sepal width', 'float'),
                    ('petal length', 'float'), ('petal width', 'float')],
    },
    %(extra)s
}"""

AUTH = """
from functools import wraps
from flask import request, Response

def requires_auth(f):
    @wraps(f)
    def decorated(*args, **kwargs):
        auth = request.authorization
        if not auth or (auth.username, auth.password) != ('admin', 'secret'):
            return Response('no', 401)
        return f(*args, **kwargs)
    return decorated
"""

MEASURE = """
import base64, json, statistics, sys, time
%(imports)s
from werkzeug.test import Client
from pld_core import create_app, load_config

app = create_app(load_config(%(config)r))
client = Client(app)
headers = {'Authorization': 'Basic ' + base64.b64encode(b'admin:secret').decode()}
query = {'sepal length': 6.3, 'sepal width': 2.5, 'petal length': 4.9, 'petal width': 1.5}
for _ in range(200):
    assert client.get('/predict', query_string=query, headers=headers).status_code == 200
rounds = []
for _ in range(%(runs)d):
    start = time.process_time()
    for _ in range(%(requests)d):
        client.get('/predict', query_string=query, headers=headers)
    rounds.append((time.process_time() - start) / %(requests)d)
print(json.dumps({'flask': app.flask is not None, 'seconds': statistics.median(rounds)}))
"""


def measure(folder: Path, extra: str, imports: str, requests: int, runs: int) -> dict[str, float]:
    config = folder / f"config-{abs(hash(extra))}.py"
    config.write_text(CONFIG % {"data": str(IRIS), "extra": extra})
    code = MEASURE % {"imports": imports, "config": str(config), "requests": requests, "runs": runs}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, check=True
    )
    measured: dict[str, float] = json.loads(result.stdout.splitlines()[-1])
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "mybasicauth.py").write_text(AUTH)
        fit = textwrap.dedent(
            f"""
            from pld_core import fit, load_config
            fit(load_config({str(folder / "fit.py")!r}, __mode__='fit'))
            """
        )
        (folder / "fit.py").write_text(CONFIG % {"data": str(IRIS), "extra": ""})
        subprocess.run([sys.executable, "-c", fit], cwd=folder, check=True, capture_output=True)
        cases = [
            ("no flask", "", ""),
            ("flask imported", "", "import flask"),
            (
                "flask + Basic Auth decorator",
                "'predict_decorators': ['mybasicauth.requires_auth'],",
                "",
            ),
        ]
        baseline = None
        for label, extra, imports in cases:
            result = measure(folder, extra, imports, args.requests, args.runs)
            micros = result["seconds"] * 1e6
            baseline = baseline or micros
            print(
                f"{label:30s} context={'yes' if result['flask'] else 'no ':3s} "
                f"{micros:8.1f} µs CPU per GET /predict  (+{micros - baseline:6.1f} µs)"
            )


if __name__ == "__main__":
    main()
