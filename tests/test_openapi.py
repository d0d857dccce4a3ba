"""``GET /openapi.json`` describes what the service really accepts and answers.

The document is checked field by field, then schemathesis generates requests from it and
checks every answer against it: no 5xx for input the document allows, and every status,
content type and body as documented.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from werkzeug.test import Client

from pld_core import create_app, load_config

FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
RULES = """
    'rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/grid-search', 'view_func': 'grid-search',
         'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/activate', 'view_func': 'activate', 'methods': ['POST']},
    ],
    'proba_service': {
        '!': 'predict-service', 'predict_proba': True, 'entry_point': '/proba',
        'mapping': [('sepal length', 'float'), ('sepal width', 'float'),
                    ('petal length', 'float'), ('petal width', 'float')],
    },"""


@pytest.fixture
def app(fitted_iris, write_iris_config):
    return create_app(load_config(str(write_iris_config(RULES))))


def test_the_document_lists_every_endpoint_with_its_fields(app):
    response = Client(app).get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.json
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "iris", "version": "0.1"}  # the service_metadata
    paths = document["paths"]
    assert set(paths) == {
        "/",
        "/activate",
        "/alive",
        "/fit",
        "/grid-search",
        "/jobs/{job_id}",
        "/list",
        "/openapi.json",
        "/predict",
        "/proba",
        "/report",
    }
    get = paths["/predict"]["get"]
    assert [(p["name"], p["required"], p["schema"]) for p in get["parameters"]] == [
        (name, True, {"type": "number"}) for name in FIELDS
    ]
    body = paths["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["minItems"] == 1 and body["items"]["required"] == FIELDS
    assert set(paths["/predict"]["get"]["responses"]) == {"200", "400", "500", "503"}
    proba = paths["/proba"]["get"]
    result = proba["responses"]["200"]["content"]["application/json"]["schema"]
    items = {"type": ["number", "null"]}  # NaN, from overflowing inputs, is sent as null
    assert result["properties"]["result"] == {"type": "array", "items": items}

    fit = paths["/fit"]["post"]
    assert {p["name"]: p["schema"]["type"] for p in fit["parameters"]} == {
        "persist": "boolean",
        "activate": "boolean",
        "evaluate": "boolean",
        "persist_if_better_than": "number",
        "activate_if_better": "boolean",
        "margin": "number",
    }
    search = paths["/grid-search"]["post"]
    assert [p["name"] for p in search["parameters"]] == ["persist_best"]  # not save_results
    assert list(paths["/fit"]) == ["post"]


#: The read-only endpoints: /fit, /grid-search and /activate change the store.
READ_ONLY = "^/(predict|proba|alive|list|openapi.json)$"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy overflows on 1e308 inputs
@pytest.mark.slow
def test_answers_match_the_document(app):
    # schemathesis' own pytest plugin follows pytest's internals; its schema API does not.
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex=READ_ONLY)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=80,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate()

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert sorted(checked) == [
        "GET /alive",
        "GET /list",
        "GET /openapi.json",
        "GET /predict",
        "GET /proba",
        "POST /predict",
        "POST /proba",
    ]
