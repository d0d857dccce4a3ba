"""Config entries that mount an endpoint: ``/fit``, ``/update-model-cache``, a custom view.

Palladium 1.2 configs do it with ``palladium.server.add_url_rule`` components; pld accepts them
unchanged (the ``palladium`` default plugin registers the names ``url-rule`` and
``palladium.server.add_url_rule`` for this class)::

    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
    ],
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pld_core.factories import import_dotted

_PALLADIUM_VIEWS = "palladium.server."


class UrlRule:
    """An extra endpoint: ``rule`` answered by a registered view, a task, or a callable.

    :param rule: the URL path, e.g. ``/fit``.
    :param view_func: the name of a view a plugin registered (``update-model-cache``,
        ``activate``), the name of a task (``fit``, ``grid-search``: started as a background
        job with the task's options), Palladium's names for these
        (``palladium.server.update_model_cache``), a dotted path to a view, or a callable
        ``view(request, app)``. Names are looked up when the app is built.
    :param methods: the HTTP methods answered.
    :param decorators: the config decorator list that wraps the view (default: the view's or
        task's own).
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
        if isinstance(view_func, str) and view_func.startswith(_PALLADIUM_VIEWS):
            # Palladium's view functions: palladium.server.update_model_cache → update-model-cache
            self.view = view_func.removeprefix(_PALLADIUM_VIEWS).replace("_", "-")
        elif isinstance(view_func, str) or callable(view_func):
            self.view = view_func  # a name is looked up when the app is built
        else:
            raise ValueError(f"view_func {view_func!r} is not callable")

    def resolve(self, views: Mapping[str, Any], tasks: Mapping[str, Any]) -> Any:
        """The view callable, registered view or task ``view_func`` names, in that order.

        :raises LookupError: nothing has the name; the message says what exists.
        """
        if not isinstance(self.view, str):
            return self.view
        for found in (views.get(self.view), tasks.get(self.view)):
            if found is not None:
                return found
        if "." in self.view or ":" in self.view:
            return import_dotted(self.view)
        raise LookupError(
            f"url rule {self.rule!r}: no view or task named {self.view!r} "
            f"(tasks: {_names(tasks)}; views: {_names(views)})"
        )


def _names(found: Mapping[str, Any]) -> str:
    return ", ".join(repr(name) for name in sorted(found)) or "none"
