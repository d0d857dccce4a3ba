"""The WSGI app in-process (werkzeug's test client): Palladium's web-service contract."""

from __future__ import annotations

import json
import time

import pytest
from werkzeug.test import Client

from pld_core import create_app, fit, load_config

TUTORIAL_QUERY = {
    "sepal length": "6.3",
    "sepal width": "2.5",
    "petal length": "4.9",
    "petal width": "1.5",
}
TWO_SAMPLES = [
    {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5},
    {"sepal length": 5.3, "sepal width": 1.5, "petal length": 3.9, "petal width": 0.5},
]
SERVICE_METADATA = {"service_name": "iris", "service_version": "0.1"}


def serve(config_path) -> Client:
    return Client(create_app(load_config(str(config_path))))


@pytest.fixture
def client(fitted_iris) -> Client:
    return serve(fitted_iris)


def test_tutorial_get(client):
    response = client.get("/predict", query_string=TUTORIAL_QUERY)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == {
        "result": "Iris-versicolor",
        "metadata": {"status": "OK", "error_code": 0, **SERVICE_METADATA},
    }


def test_two_sample_post(client):
    response = client.post("/predict", json=TWO_SAMPLES)
    assert response.status_code == 200
    assert response.json["result"] == ["Iris-versicolor", "Iris-versicolor"]
    assert response.json["metadata"]["status"] == "OK"


def test_malformed_request_is_a_400_in_the_envelope(client):
    response = client.get("/predict", query_string={"sepal length": "6.3"})
    assert response.status_code == 400
    assert response.json == {
        "metadata": {
            "status": "ERROR",
            "error_code": -1,
            "error_message": "BadRequest: missing parameter 'sepal width'",
            **SERVICE_METADATA,
        }
    }


def test_alive_reports_versions_memory_metadata_and_the_model(client):
    from pld_core import __version__

    response = client.get("/alive")
    assert response.status_code == 200
    body = response.json
    assert body["pld_version"] == body["palladium_version"] == __version__
    assert body["memory_usage"] > 10 and body["memory_usage_vms"] >= body["memory_usage"]
    assert body["service_metadata"] == SERVICE_METADATA
    assert body["model_persister"]["metadata"]["version"] == 1
    assert "updated" in body["model_persister"]
    assert body["process_metadata"]["model_cache"]["model_persister"]["version"] == 1


def test_alive_is_503_while_a_required_entry_is_missing(iris_config_path):
    client = serve(iris_config_path)  # nothing fitted: no model in the store
    response = client.get("/alive")
    assert response.status_code == 503
    assert response.json["model_persister"] == "N/A"
    predict = client.get("/predict", query_string=TUTORIAL_QUERY)
    assert predict.status_code == 503
    message = predict.json["metadata"]["error_message"]
    assert message.startswith("no model is available to predict with: No active model")


def test_list_shows_models_and_properties(client):
    body = client.get("/list").json
    assert [m["version"] for m in body["models"]] == [1]
    assert body["properties"]["active-model"] == "1"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("DELETE", "/predict", 405), ("POST", "/alive", 405)],
)
def test_unknown_routes_and_methods_are_json(client, method, path, status):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.json["metadata"]["status"] == "ERROR"


def test_optional_endpoints_are_off_by_default(client):
    for path in ("/fit", "/update-model-cache", "/activate"):
        assert client.post(path).status_code == 404


def test_two_predict_services_with_their_own_routes_and_decorators(
    tmp_path, fitted_iris, write_iris_config
):
    (tmp_path / "tagging.py").write_text(
        "def tag(name):\n"
        "    def decorator(view):\n"
        "        def wrapped(request):\n"
        "            response = view(request)\n"
        "            response.headers['X-Tag'] = name\n"
        "            return response\n"
        "        return wrapped\n"
        "    return decorator\n"
    )
    config = write_iris_config(
        """
    'predict_service_id': {
        '!': 'predict-service',
        'mapping': [('sl', 'float'), ('sw', 'float'), ('pl', 'float'), ('pw', 'float')],
        'entry_point': '/predict-by-id',
        'decorator_list_name': 'predict_decorators_id',
    },
    'predict_decorators': [{'!': 'tagging.tag', 'name': 'default'}],
    'predict_decorators_id': [{'!': 'tagging.tag', 'name': 'by-id'}],""",
    )
    client = serve(config)
    default = client.get("/predict", query_string=TUTORIAL_QUERY)
    short = dict(zip(["sl", "sw", "pl", "pw"], [6.3, 2.5, 4.9, 1.5], strict=True))
    by_id = client.get("/predict-by-id", query_string={**short, "pl": 1.4, "pw": 0.2})
    assert default.headers["X-Tag"] == "default" and by_id.headers["X-Tag"] == "by-id"
    assert default.json["result"] == "Iris-versicolor"
    # Its own field names, the model's feature order: another sample, another prediction.
    model = load_config(str(fitted_iris), __mode__="fit")["model_persister"].read()
    [expected] = model.predict([[6.3, 2.5, 1.4, 0.2]])
    assert expected != "Iris-versicolor"
    assert by_id.status_code == 200 and by_id.json["result"] == expected


def test_two_services_on_one_path_is_a_config_error(fitted_iris, write_iris_config):
    from pld_core import ConfigError

    config = write_iris_config(
        "\n    'again': {'!': 'predict-service', 'mapping': [('a', 'float')]},"
    )
    with pytest.raises(ConfigError, match="two endpoints want the path '/predict'"):
        serve(config)


def wait_for_job(client: Client, job_id: str) -> dict:
    for _ in range(200):
        job = client.get("/alive").json["process_metadata"]["jobs"][job_id]
        if job["status"] != "running":
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running")


def test_fit_update_model_cache_and_activate_when_turned_on(fitted_iris, write_iris_config):
    config = write_iris_config(
        """
    'flask_add_url_rules': [
        {'!': 'palladium.server.add_url_rule', 'rule': '/fit',
         'view_func': 'palladium.server.fit', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/update-model-cache', 'view_func': 'update-model-cache',
         'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/activate', 'view_func': 'activate', 'methods': ['POST']},
    ],""",
    )
    client = serve(config)
    started = client.post("/fit", data={"evaluate": "true", "activate": "false"})
    assert started.status_code == 200
    job = wait_for_job(client, started.json["job_id"])
    assert job["status"] == "finished", job
    assert job["func"] == "fit"
    listing = client.get("/list").json
    assert [m["version"] for m in listing["models"]] == [1, 2]
    assert listing["properties"]["active-model"] == "1"
    assert "score_test" in listing["models"][1]

    activated = client.post("/activate", data={"model_version": "2"})
    assert activated.status_code == 200
    assert activated.json["properties"]["active-model"] == "2"
    refresh = client.post("/update-model-cache")
    assert wait_for_job(client, refresh.json["job_id"])["status"] == "finished"
    alive = client.get("/alive").json
    assert alive["model_persister"]["metadata"]["version"] == 2

    assert client.post("/activate", data={"model_version": "9"}).status_code == 404
    assert client.post("/activate").status_code == 400
    bad = client.post("/activate", data={"model_version": "two"})
    assert bad.status_code == 400 and "not an integer" in bad.json["metadata"]["error_message"]
    bad_fit = client.post("/fit", query_string={"evaluate": "maybe"})
    assert bad_fit.status_code == 400


def test_predict_error_from_the_model_is_a_500_with_its_code(tmp_path, write_iris_config):
    (tmp_path / "refusing.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "from pld_core import PredictError\n"
        "class Refusing(LogisticRegression):\n"
        "    def predict(self, X):\n"
        "        if X[0][0] == 0:\n"
        "            raise PredictError('sepal length 0 is impossible', 7)\n"
        "        return super().predict(X)\n"
    )
    config = write_iris_config("\n    'model': {'!': 'refusing.Refusing'},")
    fit(load_config(str(config), __mode__="fit"))
    client = serve(config)
    response = client.get("/predict", query_string={**TUTORIAL_QUERY, "sepal length": "0"})
    assert response.status_code == 500
    assert response.json["metadata"] == {
        "status": "ERROR",
        "error_code": 7,
        "error_message": "sepal length 0 is impossible",
        **SERVICE_METADATA,
    }
    assert client.get("/predict", query_string=TUTORIAL_QUERY).status_code == 200


def test_a_wrong_method_is_a_json_405_that_says_which_are_allowed(client):
    response = client.put("/predict", json=[])
    assert response.status_code == 405 and response.mimetype == "application/json"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert client.delete("/alive").headers["Allow"].split(", ")[0] == "GET"


def test_response_bodies_are_json_documents(client):
    for response in (client.get("/alive"), client.get("/list"), client.get("/x")):
        json.loads(response.get_data())


def test_a_pld_predict_wrapper_sees_every_prediction(fitted_iris):
    from pld_core import get_plugin_manager, hookimpl

    calls = []

    class Audit:
        @hookimpl(wrapper=True)
        def pld_predict(self, model, X, method, params):
            result = yield
            calls.append((method, len(X)))
            return result

    pm = get_plugin_manager()
    pm.register(Audit(), name="audit")
    client = Client(create_app(load_config(str(fitted_iris), plugins=pm)))
    assert client.get("/predict", query_string=TUTORIAL_QUERY).json["result"] == "Iris-versicolor"
    assert client.post("/predict", json=TWO_SAMPLES).status_code == 200
    assert calls == [("predict", 1), ("predict", 2)]


def test_fast_and_checked_parsing_agree(client):
    numbers = client.post("/predict", json=TWO_SAMPLES).json["result"]
    as_text = [{k: str(v) for k, v in sample.items()} for sample in TWO_SAMPLES]
    assert client.post("/predict", json=as_text).json["result"] == numbers
    with_bool = [dict(TWO_SAMPLES[0], **{"sepal width": True})]
    response = client.post("/predict", json=with_bool)
    assert response.status_code == 400
    assert (
        "parameter 'sepal width': True is not a number"
        in response.json["metadata"]["error_message"]
    )


def test_hook_pld_register_routes_reaches_the_server(fitted_iris, write_iris_config, tmp_path):
    from werkzeug.wrappers import Response

    from pld_core import get_plugin_manager, hookimpl

    (tmp_path / "stamp.py").write_text(
        "def stamp(view):\n"
        "    def wrapped(request):\n"
        "        response = view(request)\n"
        "        response.headers['X-Stamp'] = 'yes'\n"
        "        return response\n"
        "    return wrapped\n"
    )

    def version_view(request, app):
        model = app.models.get()
        return Response(str(model.__metadata__["version"]), mimetype="text/plain")

    class Routes:
        @hookimpl
        def pld_register_routes(self, register):
            register("/model-version", version_view, decorators="version_decorators")

    pm = get_plugin_manager()
    pm.register(Routes(), name="routes")
    config = write_iris_config("\n    'version_decorators': ['stamp.stamp'],")
    client = Client(create_app(load_config(str(config), plugins=pm)))
    response = client.get("/model-version")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "1")
    assert response.headers["X-Stamp"] == "yes"
    assert client.post("/model-version").status_code == 405


def test_fit_takes_the_cli_options_as_json_form_or_query(fitted_iris, write_iris_config):
    """The ``/fit`` options are ``pld fit``'s, by keyword: checked and typed the same way."""
    from click.testing import CliRunner

    from pld_core import make_cli

    config = write_iris_config(
        "\n    'rules': [{'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit'}],"
    )
    client = serve(config)
    started = client.post("/fit", json={"evaluate": True, "persist_if_better_than": 2.0})
    assert started.status_code == 200
    job = wait_for_job(client, started.json["job_id"])
    assert job["params"] == {
        "persist": True,
        "activate": True,
        "evaluate": True,
        "persist_if_better_than": 2.0,
    }
    assert job["info"]["version"] is None
    assert job["info"]["skipped_reason"].startswith("not persisting: test score 0.9")
    cli_args = ["--config", str(config), "fit", "--save-if-better-than", "2"]
    cli = CliRunner().invoke(make_cli(), cli_args)
    assert cli.exit_code == 0, cli.output
    assert cli.stdout.splitlines()[-1] == job["info"]["skipped_reason"].capitalize() + "."

    empty = client.post("/fit?persist=no", data=b"", content_type="application/json")
    job = wait_for_job(client, empty.json["job_id"])
    assert job["params"] == {"persist": False, "activate": True, "evaluate": False}

    started = client.post("/fit?activate=false", data={"evaluate": "yes"})
    job = wait_for_job(client, started.json["job_id"])
    assert (job["info"]["version"], job["info"]["activated"]) == (2, False)
    assert set(job["info"]["scores"]) == {"train_score", "test_score"}
    assert job["progress"] == {"stage": "Writing model"}  # the last step it reached

    for body, message in [
        ({"persist_if_better": 0.9}, "persist_if_better (accepted: activate, activate_if_better,"),
        ({"persist_if_better_than": "high"}, "must be a finite number, not 'high'"),
        ({"persist_if_better_than": float("nan")}, "must be a finite number, not nan"),
        ({"evaluate": 1}, "evaluate must be true or false, not 1"),
        (["evaluate"], "the JSON body must be an object"),
    ]:
        refused = client.post("/fit", json=body)
        assert refused.status_code == 400, body
        assert message in refused.json["metadata"]["error_message"]
    for twice in (
        client.post("/fit?evaluate=false", json={"evaluate": True}),
        client.post("/fit?evaluate=false&evaluate=false"),
        client.post("/fit?persist=no", data={"persist": "no"}),
    ):
        assert twice.status_code == 400
        assert "is given more than once" in twice.json["metadata"]["error_message"]
    assert len(client.get("/alive").json["process_metadata"]["jobs"]) == 3
