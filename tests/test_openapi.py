"""``GET /openapi.json`` describes what the service really accepts and answers.

The document is checked field by field, then schemathesis generates requests from it and
checks every answer against it: no 5xx for input the document allows, and every status,
content type and body as documented.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from werkzeug.test import Client

from pld_core import load_config
from pld_core.server import create_app

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
        "/activate",
        "/alive",
        "/fit",
        "/grid-search",
        "/list",
        "/openapi.json",
        "/predict",
        "/proba",
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
    }
    search = paths["/grid-search"]["post"]
    assert [p["name"] for p in search["parameters"]] == ["persist_best"]  # not save_results
    assert list(paths["/fit"]) == ["post"]


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


# /fit, /grid-search and /activate change the store: the read-only endpoints are fuzzed.
contract = schemathesis.pytest.from_fixture("api_schema").include(
    path_regex="^/(predict|proba|alive|list|openapi.json)$"
)


@contract.parametrize()
@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy overflows on 1e308 inputs
def test_answers_match_the_document(case):
    case.call_and_validate()
