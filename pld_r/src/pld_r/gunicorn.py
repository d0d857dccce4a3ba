"""gunicorn server hooks for serving R models.

``post_request`` runs once a response has been sent: R's garbage collection happens there
when one is due (:mod:`pld_r.collect`) instead of inside a later request. Add it to a
gunicorn config file::

    from pld_r.gunicorn import post_request  # noqa: F401

In a server that has not started R it does nothing.
"""

from __future__ import annotations

from typing import Any

from pld_r import collect

__all__ = ["post_request"]


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """After each response: R's young-generation collection, if one is due."""
    collect.after_request()
