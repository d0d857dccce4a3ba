"""Config entries that switch on the optional endpoints ``/fit``, ``/update-model-cache``, etc.

Palladium 1.2 configs do it with ``palladium.server.add_url_rule`` components; pld accepts
them unchanged and offers the short name ``url-rule``::

    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
    ],
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pld_core.factories import import_dotted

#: View names pld provides, with their Palladium 1.2 spellings.
BUILTIN_VIEWS = {
    "fit": "fit",
    "update-model-cache": "update-model-cache",
    "activate": "activate",
    "palladium.server.fit": "fit",
    "palladium.server.update_model_cache": "update-model-cache",
    "palladium.server.activate": "activate",
}


class UrlRule:
    """An extra endpoint: ``rule`` answered by a built-in view or ``view(request, app)``.

    :param rule: the URL path, e.g. ``/fit``.
    :param view_func: ``update-model-cache``, ``activate``, the name of a task (``fit``,
        ``grid-search``: started as a background job with the task's options), Palladium's
        names for these, a dotted path to a view, or a view callable.
    :param methods: the HTTP methods answered.
    :param decorators: for a custom view, the config decorator list that wraps it.
    :param endpoint: ignored; accepted so Palladium's ``add_url_rule`` entries load.
    """

    def __init__(
        self,
        rule: str,
        view_func: str | Callable[..., Any],
        methods: Sequence[str] = ("GET", "POST"),
        decorators: str | None = None,
        endpoint: str | None = None,
    ):
        if not rule.startswith("/"):
            raise ValueError(f"rule must start with '/', not {rule!r}")
        self.rule = rule
        self.methods = tuple(m.upper() for m in methods)
        self.decorators = decorators
        self.endpoint = f"rule:{rule}"
        self.view: str | Callable[..., Any]
        if isinstance(view_func, str) and view_func in BUILTIN_VIEWS:
            self.view = BUILTIN_VIEWS[view_func]
        elif isinstance(view_func, str) and "." not in view_func:
            self.view = view_func  # a task's name, e.g. 'grid-search'; the server looks it up
        elif isinstance(view_func, str):
            self.view = import_dotted(view_func)
        else:
            self.view = view_func
        if not isinstance(self.view, str) and not callable(self.view):
            raise ValueError(f"view_func {view_func!r} is not callable")
