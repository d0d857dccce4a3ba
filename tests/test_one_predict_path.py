"""Every prediction takes one path: HTTP GET and POST, ``pld stream`` and ``pld predict``.

The same malformed record gets the same error text on all four; a ``pld_predict`` hook wrapper
sees all four; and two apps built in one process serve their own models.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from pld_core import create_app, fit, get_plugin_manager, hookimpl, load_config, make_cli

GOOD = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}
#: A record without 'sepal width': the predict service's mapping needs it.
BAD = {"sepal length": 6.3, "petal length": 4.9, "petal width": 1.5}
EXPECTED_ERROR = "BadRequest: missing parameter 'sepal width'"


class CountingPredictions:
    """A ``pld_predict`` wrapper, as a tracing or metrics plugin would write it."""

    def __init__(self) -> None:
        self.rows: list[int] = []

    @hookimpl(wrapper=True)
    def pld_predict(self, model, X, method, params):
        self.rows.append(len(X))
        return (yield)


def _http_error(client: Client, method: str) -> str:
    if method == "GET":
        answer = client.get("/predict", query_string=BAD)
    else:
        answer = client.post("/predict", json=[BAD])
    assert answer.status_code == 400 and answer.mimetype == "application/json"
    return str(answer.json["metadata"]["error_message"])


def test_the_same_bad_record_gets_the_same_error_on_every_path(fitted_iris, tmp_path):
    config = str(fitted_iris)
    client = Client(create_app(load_config(config)))
    messages = {"GET": _http_error(client, "GET"), "POST": _http_error(client, "POST")}

    runner = CliRunner()
    streamed = runner.invoke(make_cli(), ["stream", "-c", config], input=json.dumps([BAD]) + "\n")
    assert streamed.exit_code == 0 and streamed.stdout == "[]\n"
    [line] = streamed.stderr.splitlines()
    prefix = f"Error while processing input row: {json.dumps([BAD])}: "
    assert line.startswith(prefix)
    messages["stream"] = line.removeprefix(prefix)

    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps(BAD) + "\n")
    out = tmp_path / "out.jsonl"
    batch = runner.invoke(make_cli(), ["predict", "-c", config, "-i", str(samples), "-o", str(out)])
    assert batch.exit_code == 1
    assert batch.stderr.splitlines()[0].startswith("row 1: ")
    messages["predict (stderr)"] = batch.stderr.splitlines()[0].removeprefix("row 1: ")
    messages["predict (output)"] = json.loads(out.read_text())["error"]

    assert messages == dict.fromkeys(messages, EXPECTED_ERROR)


def test_a_pld_predict_wrapper_sees_every_path(fitted_iris, tmp_path):
    config = str(fitted_iris)
    counting = CountingPredictions()
    pm = get_plugin_manager()
    pm.register(counting, name="counting")

    client = Client(create_app(load_config(config, plugins=pm)))
    assert client.get("/predict", query_string=GOOD).json["result"] == "Iris-versicolor"
    assert client.post("/predict", json=[GOOD, GOOD]).json["result"] == ["Iris-versicolor"] * 2

    runner = CliRunner()
    streamed = runner.invoke(make_cli(pm), ["stream", "-c", config], input=json.dumps([GOOD] * 3))
    assert streamed.exit_code == 0 and json.loads(streamed.stdout) == ["Iris-versicolor"] * 3

    samples = tmp_path / "samples.jsonl"
    samples.write_text((json.dumps(GOOD) + "\n") * 4)
    batch = runner.invoke(make_cli(pm), ["predict", "-c", config, "-i", str(samples)])
    assert batch.exit_code == 0, batch.stderr
    assert [json.loads(line)["prediction"] for line in batch.stdout.splitlines()] == [
        "Iris-versicolor"
    ] * 4

    assert counting.rows == [1, 2, 3, 4]  # GET, POST, stream, predict: one call each


CONSTANT_MODEL = """
    'model': {'!': 'sklearn.dummy.DummyClassifier', 'strategy': 'constant',
              'constant': 'Iris-virginica'},
    'model_persister': {'!': 'file', 'path': here + '/model-{version}'},"""


@pytest.fixture
def two_stores(tmp_path: Path, iris_config_text: str) -> tuple[Path, Path]:
    """Two folders, each a config with its own File store and one fitted version.

    Both name their persister ``model_persister``: once the key a process-wide store of
    served models would share.
    """
    paths = []
    for name, extra in [("logistic", ""), ("constant", CONSTANT_MODEL)]:
        folder = tmp_path / name
        folder.mkdir()
        text = iris_config_text.replace(
            "'model_persister': {\n        '!': 'cached-update', 'impl': "
            "{'!': 'file', 'path': here + '/model-{version}'},\n    },",
            "'model_persister': {'!': 'file', 'path': here + '/model-{version}'},",
        )
        if extra:
            text = text.rstrip()[:-1] + extra + "\n}"
        path = folder / "config.py"
        path.write_text(text)
        fit(load_config(str(path), __mode__="fit"))
        paths.append(path)
    return paths[0], paths[1]


def test_two_apps_in_one_process_serve_their_own_models(two_stores):
    logistic, constant = (Client(create_app(load_config(str(p)))) for p in two_stores)
    assert logistic.get("/predict", query_string=GOOD).json["result"] == "Iris-versicolor"
    assert constant.get("/predict", query_string=GOOD).json["result"] == "Iris-virginica"
    # The first app still serves its own model once the second one is built.
    assert logistic.get("/predict", query_string=GOOD).json["result"] == "Iris-versicolor"
    classes = {
        name: client.get("/alive").json["model_persister"]["metadata"]["model_class"]
        for name, client in [("logistic", logistic), ("constant", constant)]
    }
    assert classes == {
        "logistic": "sklearn.linear_model._logistic.LogisticRegression",
        "constant": "sklearn.dummy.DummyClassifier",
    }


def test_head_answers_like_get(fitted_iris):
    client = Client(create_app(load_config(str(fitted_iris))))
    got, head = (
        client.get("/predict", query_string=GOOD),
        client.head("/predict", query_string=GOOD),
    )
    assert (
        (head.status_code, head.mimetype)
        == (got.status_code, got.mimetype)
        == (
            200,
            "application/json",
        )
    )
    assert head.get_data() == b""
