"""``GET /openapi.json``: an OpenAPI 3.1 description of the service, built once at start-up.

Predict services describe their own endpoint (``PredictService.openapi_operations``); pld adds
``/alive``, ``/list``, the task endpoints (their options, from the same declarations the CLI
uses) and the plugin routes. Clients, API gateways and contract testers such as schemathesis
read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pld_core.tasks import Option, Task

OPENAPI_VERSION = "3.1.0"

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
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def error_responses(*statuses: int) -> dict[str, Any]:
    """Responses in the error envelope for ``statuses``."""
    reasons = {
        400: "The request is malformed or does not match the input fields.",
        404: "Not found.",
        500: "The model or the server failed.",
        503: "No model is loaded yet.",
    }
    return {
        str(status): {
            "description": reasons.get(status, "Error."),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status in statuses
    }


def with_errors(operations: dict[str, Any] | None, *statuses: int) -> dict[str, Any] | None:
    """``operations`` with the error-envelope answers for ``statuses`` where they lack them."""
    if operations is None:
        return None
    errors = error_responses(*statuses)
    return {
        method: {**operation, "responses": {**errors, **operation.get("responses", {})}}
        for method, operation in operations.items()
    }


def json_response(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A 200 JSON response."""
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


def task_operations(task: Task, methods: Iterable[str]) -> dict[str, Any]:
    """The operations of a task endpoint: its HTTP options as query, form or JSON fields."""
    options = [option for option in task.options if option.http]
    body = {
        "type": "object",
        "additionalProperties": False,
        "properties": {option.name: _option_schema(option) for option in options},
    }
    operations: dict[str, Any] = {}
    for method in methods:
        operation: dict[str, Any] = {
            "summary": task.help.split("\n", 1)[0] or f"Start the {task.name} task",
            "description": (
                f"Starts `pld {task.name}` as a background job and answers its id at once; "
                "the job's status, progress and result appear under /alive."
            ),
            "operationId": f"{task.name}_{method.lower()}",
            "parameters": [
                {
                    "name": option.name,
                    "in": "query",
                    "required": False,
                    "schema": _option_schema(option),
                }
                for option in options
            ],
            "responses": {
                "200": json_response(
                    "The job was started.",
                    {"type": "object", "properties": {"job_id": {"type": "string"}}},
                ),
                **error_responses(400),
            },
        }
        if method != "GET":
            operation["requestBody"] = {
                "required": False,
                "content": {
                    "application/json": {"schema": body},
                    "application/x-www-form-urlencoded": {"schema": body},
                },
            }
        operations[method.lower()] = operation
    return operations


def _option_schema(option: Option) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _JSON_TYPES[option.kind]}
    if option.default is not None:
        schema["default"] = option.default
    if option.help:
        schema["description"] = option.help
    return schema


def document(
    title: str, version: str, paths: dict[str, dict[str, Any]], description: str = ""
) -> dict[str, Any]:
    """The whole OpenAPI document."""
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    return {
        "openapi": OPENAPI_VERSION,
        "info": info,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {"Error": ERROR_ENVELOPE}},
    }


def generic_operations(methods: Iterable[str], summary: str) -> dict[str, Any]:
    """An endpoint pld knows only by path and methods (a plugin's route, a custom view)."""
    return {
        method.lower(): {
            "summary": summary,
            "responses": {"200": json_response("Success."), **error_responses(400, 500)},
        }
        for method in methods
    }
