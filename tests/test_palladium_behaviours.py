"""Palladium 1.2 behaviours users' code relies on (issue 17): Flask-style decorators and views,
Palladium's ``data`` key for a scheduled loader, ``/update-model-cache`` without a persister,
and ``pld-devserver --debug=<n>``."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from werkzeug.test import Client

from pld_core import create_app, load_config
from pld_core.testing import free_port, http_json, running_server

flask = pytest.importorskip("flask", reason="flask is not installed")

# The seed's deployment guide's decorator (the Flask snippet), with its quoting repaired.
BASIC_AUTH = '''
from functools import wraps
from flask import request, Response


def check_auth(username, password):
    """This function is called to check if a username / password combination is valid."""
    return username == 'admin' and password == 'secret'


def authenticate():
    """Sends a 401 response that enables basic auth"""
    return Response(
        'Could not verify your access level for that URL.\\n'
        'You have to login with proper credentials', 401,
        {'WWW-Authenticate': 'Basic realm="Login Required"'})


def requires_auth(f):
    @wraps(f)
    def decorated(*args, **kwargs):
        auth = request.authorization
        if not auth or not check_auth(auth.username, auth.password):
            return authenticate()
        return f(*args, **kwargs)
    return decorated


def peeks_at_the_body(f):
    @wraps(f)
    def decorated(*args, **kwargs):
        if request.method == 'POST' and not isinstance(request.get_json(), list):
            return Response('a list please', 400)
        return f(*args, **kwargs)
    return decorated
'''

VIEWS = """
from flask import jsonify, request


def hello():
    return jsonify(greeting='hello ' + request.args.get('name', 'nobody'))


def text():
    return 'plain ' + request.method


def with_status():
    return {'made': 'by flask'}, 201
"""

AUTH = "Basic " + base64.b64encode(b"admin:secret").decode()
SAMPLE = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}


@pytest.fixture
def flask_project(tmp_path: Path, fitted_iris: Path, write_iris_config) -> Path:
    (tmp_path / "mybasicauth.py").write_text(BASIC_AUTH)
    (tmp_path / "myviews.py").write_text(VIEWS)
    return write_iris_config(
        """
    'predict_decorators': ['mybasicauth.peeks_at_the_body', 'mybasicauth.requires_auth'],
    'alive_decorators': ['mybasicauth.requires_auth'],
    'flask_add_url_rules': [
        {'!': 'palladium.server.add_url_rule', 'rule': '/hello', 'view_func': 'myviews.hello'},
        {'!': 'url-rule', 'rule': '/text', 'view_func': 'myviews.text'},
        {'!': 'url-rule', 'rule': '/status', 'view_func': 'myviews.with_status'},
    ],"""
    )


def test_a_flask_request_decorator_guards_predict_and_alive(flask_project: Path) -> None:
    client = Client(create_app(load_config(str(flask_project))))
    refused = client.get("/alive")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="Login Required"'
    assert client.get("/alive", headers={"Authorization": AUTH}).status_code == 200
    assert client.get("/predict", query_string=SAMPLE).status_code == 401
    answer = client.get("/predict", query_string=SAMPLE, headers={"Authorization": AUTH})
    assert answer.status_code == 200 and answer.json["result"] == "Iris-versicolor"


def test_decorator_and_view_read_one_body(flask_project: Path) -> None:
    """flask.request is the request pld's view gets: the body a decorator read is still there."""
    client = Client(create_app(load_config(str(flask_project))))
    answer = client.post("/predict", json=[SAMPLE, SAMPLE], headers={"Authorization": AUTH})
    assert answer.status_code == 200, answer.text
    assert answer.json["result"] == ["Iris-versicolor", "Iris-versicolor"]
    refused = client.post("/predict", json={"not": "a list"}, headers={"Authorization": AUTH})
    assert refused.status_code == 400 and refused.text == "a list please"


def test_zero_argument_views_are_called_without_arguments(flask_project: Path) -> None:
    client = Client(create_app(load_config(str(flask_project))))
    hello = client.get("/hello", query_string={"name": "pld"})
    assert hello.status_code == 200 and hello.json == {"greeting": "hello pld"}
    text = client.post("/text")
    assert text.status_code == 200 and text.text == "plain POST"
    made = client.get("/status")
    assert made.status_code == 201 and made.json == {"made": "by flask"}


def test_without_flask_imported_the_server_does_not_import_it(fitted_iris: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from pld_core import create_app, load_config
        app = create_app(load_config({str(fitted_iris)!r}))
        assert app.flask is None, app.flask
        assert 'flask' not in sys.modules, 'flask was imported'
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_scheduled_loader_fills_palladiums_data_key(write_iris_config, fitted_iris: Path) -> None:
    config = write_iris_config(
        """
    'scheduled': {
        '!': 'palladium.dataset.ScheduledDatasetLoader',
        'impl': {'__copy__': 'dataset_loader_test'},
        'update_cache_rrule': {'freq': 'DAILY'},
    },
    'alive': {'process_store_required': ['model_persister', 'data']},"""
    )
    app = create_app(load_config(str(config)))
    try:
        alive = Client(app).get("/alive")
        assert alive.status_code == 200, alive.json
        assert alive.json["data"]["updated"] is not None
    finally:
        app.config["scheduled"].stop()


def test_update_model_cache_without_a_persister_is_a_503(tmp_path: Path) -> None:
    config = tmp_path / "config.py"
    config.write_text(
        "{'flask_add_url_rules': [{'!': 'url-rule', 'rule': '/update-model-cache',"
        " 'view_func': 'palladium.server.update_model_cache', 'methods': ['POST']}]}"
    )
    client = Client(create_app(load_config(str(config))))
    answer = client.post("/update-model-cache")
    assert answer.status_code == 503
    assert "model_persister" in answer.json["metadata"]["error_message"]


@pytest.mark.parametrize("debug", ["--debug=0", "--debug=1"])
def test_devserver_takes_palladiums_debug_value(fitted_iris: Path, debug: str) -> None:
    port = free_port()
    script = Path(sys.executable).with_name("pld-devserver")
    command = [str(script), "--config", str(fitted_iris), debug, "--port", str(port)]
    with running_server(command, port) as base:
        status, body = http_json(base + "/alive")
        assert status == 200 and body["model_persister"]["metadata"]["version"] == 1


def test_devserver_refuses_a_debug_value_that_is_no_number(fitted_iris: Path) -> None:
    script = Path(sys.executable).with_name("pld-devserver")
    result = subprocess.run(
        [str(script), "--config", str(fitted_iris), "--debug=yes"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "--debug" in result.stderr and "Traceback" not in result.stderr
