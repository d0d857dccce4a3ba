"""Palladium 1.2's names: the ``partial`` component and Palladium's scripts.

``palladium.util.Partial`` in a config builds the same component as ``partial``
(``palladium.server.add_url_rule`` is the ``endpoints`` plugin's ``url-rule``). ``pld-fit``,
``pld-test``, ``pld-list``, ``pld-admin``, ``pld-version``, ``pld-devserver``, ``pld-stream``,
``pld-upgrade`` and ``pld-export`` run the ``pld`` command of the same name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pld_core import hookimpl, import_dotted, make_script


def partial(func: str | Callable[..., Any], **kwargs: Any) -> Callable[..., Any]:
    """``func`` with ``kwargs`` filled in (Palladium's ``palladium.util.Partial``).

    For config entries that must be callables, such as a CV factory: ``{'!': 'partial',
    'func': 'sklearn.model_selection.StratifiedKFold', 'n_splits': 5}``. ``func`` may be a
    dotted path; the result keeps its name and docstring.
    """
    target = import_dotted(func) if isinstance(func, str) else func
    if not callable(target):
        raise TypeError(f"func must be callable, not {type(target).__name__}")
    # Names and docstring only: copying a class's __dict__ would give the partial its methods
    # (a partial StratifiedKFold would then look like a splitter, not a factory).
    return functools.update_wrapper(functools.partial(target, **kwargs), target, updated=())


@hookimpl
def pld_register_components(register: Callable[..., None]) -> None:
    register("partial", partial, aliases=["palladium.util.Partial"])


fit_script = make_script("pld-fit", "fit")
test_script = make_script("pld-test", "test")
list_script = make_script("pld-list", "list")
admin_script = make_script("pld-admin", "admin")
version_script = make_script("pld-version", "version")
devserver_script = make_script("pld-devserver", "serve")
upgrade_script = make_script("pld-upgrade", "upgrade")
export_script = make_script("pld-export", "export")
stream_script = make_script("pld-stream", "stream")
