"""``pld check-api``: fuzz a pld service from its own ``/openapi.json``; exit 1 on what breaks.

For CI: point it at a running service (a URL) or at a config (it serves the config on
127.0.0.1 for the run). The fuzzer needs schemathesis (``pip install 'pld-plugins[check-api]'``);
it is imported only when the command runs, so ``pld`` itself does not load it.
"""

from __future__ import annotations

from collections.abc import Callable

from pld_core import hookimpl
from pld_plugins.check_api.command import check_api_command

__all__ = ["check_api_command", "pld_register_commands"]


@hookimpl
def pld_register_commands(register: Callable[..., None]) -> None:
    register(check_api_command)
