"""Palladium's JSON envelope, and the one mapping of exceptions to statuses and messages.

Every answer pld gives is JSON: ``{"result": ..., "metadata": {"status": "OK", ...}}`` for a
prediction, ``{"metadata": {"status": "ERROR", "error_code": ..., "error_message": ...}}`` for
an error, with the service metadata merged into ``metadata``. :func:`describe_error` decides,
once for every path, what an exception means: HTTP turns it into a status, ``pld stream`` and
``pld predict`` print the same message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from pld_core.encoding import encode
from pld_core.errors import InputError, LimitError, NoModelError, PredictError

logger = logging.getLogger(__name__)

JSON_MIMETYPE = "application/json"


def json_response(body: Any, status: int = 200) -> Response:
    """``body`` as a JSON answer (the one encoder: orjson)."""
    return Response(encode(body), status=status, mimetype=JSON_MIMETYPE)


def error_body(
    message: str, code: int = -1, metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The error envelope, with the service ``metadata`` after the status fields."""
    status = {"status": "ERROR", "error_code": code, "error_message": message}
    return {"metadata": {**status, **(metadata or {})}}


def error_response(
    status: int, message: str, code: int = -1, metadata: Mapping[str, Any] | None = None
) -> Response:
    """The error envelope as an answer with HTTP ``status``."""
    return json_response(error_body(message, code, metadata), status)


def describe_error(exc: BaseException, where: str = "prediction") -> tuple[int, int, str]:
    """``(HTTP status, error code, message)`` for an exception raised while answering.

    Bad input is the client's (400, 413 over a limit); no model yet is 503; a model's
    :class:`PredictError` keeps its code; anything else is the server's (500) and is logged
    with its traceback, naming ``where`` it happened.
    """
    if isinstance(exc, LimitError):
        return 413, -1, str(exc)
    if isinstance(exc, InputError):
        return 400, -1, str(exc)
    if isinstance(exc, HTTPException):  # raised by Werkzeug while reading the request
        return exc.code or 400, -1, f"{type(exc).__name__}: {exc.description}"
    if isinstance(exc, NoModelError):
        return 503, -1, str(exc.args[0] if exc.args else exc)
    if isinstance(exc, PredictError):
        return 500, exc.error_code, exc.error_message
    logger.error("%s failed", where, exc_info=exc)
    return 500, -1, f"{type(exc).__name__}: {exc}"


def error_text(exc: BaseException) -> str:
    """The message :func:`describe_error` gives: what every predict path reports."""
    return describe_error(exc)[2]
