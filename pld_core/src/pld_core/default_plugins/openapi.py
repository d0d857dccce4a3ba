"""``GET /openapi.json``: an OpenAPI 3.1 description of the service, built once per app.

Every endpoint the app answers is described: predict services, routes and mounted views with
the operations they give (task endpoints list their options, from the declarations the CLI
uses), everything else by its methods, all with the error envelope. Clients, API gateways and
contract testers such as schemathesis read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from pld_core import JSON_MIMETYPE, App, Endpoint, __version__, encode, hookimpl

OPENAPI_VERSION = "3.1.0"
PATH = "/openapi.json"

#: Palladium's error envelope, shared by every endpoint.
ERROR_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["metadata"],
    "properties": {
        "metadata": {
            "type": "object",
            "required": ["status", "error_code", "error_message"],
            "properties": {
                "status": {"const": "ERROR"},
                "error_code": {"type": "integer"},
                "error_message": {"type": "string"},
            },
        }
    },
}
_WITH_BODY = ("post", "put", "patch")
_REASONS = {
    400: "The request is malformed or does not match the input fields.",
    404: "Not found.",
    413: "The body or the number of samples is over the service's limits.",
    500: "The model or the server failed.",
    503: "No model is loaded yet.",
}


def describe(request: Request, app: App) -> Response:
    """The document, made on the first request and kept for the app's life."""
    body = app.state.get(PATH)
    if body is None:
        body = app.state[PATH] = encode(document(app))
    return Response(body, mimetype=JSON_MIMETYPE)


def document(app: App) -> dict[str, Any]:
    """The whole OpenAPI document of ``app``."""
    title = str(app.service_metadata.get("service_name") or "pld service")
    version = str(app.service_metadata.get("service_version") or __version__)
    paths = {_template(path): operations(endpoint) for path, endpoint in app.endpoints.items()}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {"Error": ERROR_ENVELOPE}},
    }


def _template(path: str) -> str:
    """A Werkzeug rule's variables as OpenAPI path templates: ``/jobs/<job_id>`` → ``{job_id}``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", path)


def operations(endpoint: Endpoint) -> dict[str, Any]:
    """The operations of one endpoint, each with the error answers it can give."""
    if endpoint.operations is not None:
        given = endpoint.operations
    else:
        summary = endpoint.summary or f"Answered by {endpoint.owner}"
        given = {
            method.lower(): {"summary": summary, "responses": {"200": {"description": "Success."}}}
            for method in endpoint.methods
        }
    described = {}
    for method, operation in given.items():
        too_large = (413,) if method in _WITH_BODY else ()  # over the service's limits
        errors = error_responses(400, *too_large, 500, *endpoint.errors)
        responses = _with_content({**errors, **operation["responses"]})
        described[method] = {**operation, "responses": responses}
    return described


def _with_content(responses: dict[str, Any]) -> dict[str, Any]:
    """Every answer is JSON: responses that do not say what they hold hold an object."""
    json_object = {"application/json": {"schema": {"type": "object"}}}
    return {status: {"content": json_object, **answer} for status, answer in responses.items()}


def error_responses(*statuses: int) -> dict[str, Any]:
    """Responses in the error envelope for ``statuses``."""
    return {
        str(status): {
            "description": _REASONS.get(status, "Error."),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status in statuses
    }


_DOC = {
    "get": {
        "summary": "This description of the service",
        "responses": {"200": {"description": "The OpenAPI document."}},
    }
}


@hookimpl
def pld_register_routes(register: Callable[..., None]) -> None:
    register(PATH, describe, decorators="openapi_decorators", openapi=_DOC)
