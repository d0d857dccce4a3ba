"""Palladium 1.2's names: the ``partial`` component and Palladium's scripts.

``palladium.util.Partial`` in a config builds the same component as ``partial``
(``palladium.server.add_url_rule`` is the ``endpoints`` plugin's ``url-rule``). ``pld-fit``,
``pld-test``, ``pld-list``, ``pld-admin``, ``pld-version``, ``pld-devserver``, ``pld-stream``,
``pld-upgrade`` and ``pld-export`` run the ``pld`` command of the same name.
"""

from __future__ import annotations

import functools
import sys
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
stream_script = make_script("pld-stream", "stream")
upgrade_script = make_script("pld-upgrade", "upgrade")
export_script = make_script("pld-export", "export")
_devserver = make_script("pld-devserver", "serve")


def devserver_script() -> None:
    """Palladium's ``pld-devserver``: ``pld serve``, also taking ``--debug=<n>`` (0 is off)."""
    sys.argv[1:] = palladium_debug(sys.argv[1:])
    _devserver()


def palladium_debug(args: list[str]) -> list[str]:
    """Palladium's ``--debug=1`` / ``--debug 0`` as pld's ``--debug`` flag (or nothing)."""
    result: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--debug" and index < len(args) and _is_int(args[index]):
            arg = f"--debug={args[index]}"
            index += 1
        value = arg.removeprefix("--debug=")
        if arg.startswith("--debug=") and _is_int(value):
            if int(value):
                result.append("--debug")
            continue
        result.append(arg)  # anything else, a bad --debug value too, goes to the command
    return result


def _is_int(text: str) -> bool:
    return text.strip().removeprefix("-").isdigit()
