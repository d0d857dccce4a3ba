"""HTTP Basic Auth for pld endpoints, as a decorator for the config's decorator lists.

pld's views take the Werkzeug request and return a response, so a decorator wraps
``view(request)`` and may answer instead of it::

    'predict_decorators': ['basic_auth.requires_auth'],
    'alive_decorators': ['basic_auth.requires_auth'],
    'list_decorators': ['basic_auth.requires_auth'],

The credentials come from ``PLD_BASIC_AUTH_USER`` and ``PLD_BASIC_AUTH_PASSWORD`` so they stay
out of the config file. Use it behind TLS: Basic Auth sends the password with every request.
"""

from __future__ import annotations

import functools
import hmac
import json
import os
from collections.abc import Callable

from werkzeug.wrappers import Request, Response

View = Callable[[Request], Response]


def _expected() -> tuple[str, str]:
    try:
        return os.environ["PLD_BASIC_AUTH_USER"], os.environ["PLD_BASIC_AUTH_PASSWORD"]
    except KeyError as exc:
        raise RuntimeError(f"basic_auth: set the environment variable {exc.args[0]}") from None


def check_auth(username: str, password: str) -> bool:
    """Compare in constant time, so timing does not leak how much of a guess was right."""
    user, secret = _expected()
    return hmac.compare_digest(username.encode(), user.encode()) and hmac.compare_digest(
        password.encode(), secret.encode()
    )


def authenticate() -> Response:
    """401 with the challenge, as JSON like every other pld answer."""
    body = {
        "metadata": {
            "status": "ERROR",
            "error_code": 401,
            "error_message": "Unauthorized: valid credentials required",
        }
    }
    return Response(
        json.dumps(body),
        status=401,
        mimetype="application/json",
        headers={"WWW-Authenticate": 'Basic realm="pld"'},
    )


def requires_auth(view: View) -> View:
    """Answer 401 unless the request carries the right Basic Auth credentials."""
    _expected()  # fail at start-up, not on the first request, when unconfigured

    @functools.wraps(view)
    def guarded(request: Request) -> Response:
        auth = request.authorization
        if (
            auth is None
            or auth.type != "basic"
            or not check_auth(auth.username or "", auth.password or "")
        ):
            return authenticate()
        return view(request)

    return guarded
