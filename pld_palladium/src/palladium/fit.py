"""``palladium.fit``: ``fit``, ``activate``, ``delete`` and the ``pld-fit``/``pld-admin`` entries.

``fit`` reads everything else from the config, as Palladium's did, and runs pld's ``fit``
task (``fit_decorators`` included); it returns the fitted model.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from pld_core import fit as _fit
from pld_core import get_config, make_cli

__all__ = ["activate", "admin_cmd", "delete", "fit", "fit_cmd", "grid_search_cmd"]


def fit(
    persist: bool = True,
    activate: bool = True,
    evaluate: bool = False,
    persist_if_better_than: float | None = None,
) -> Any:
    """Fit ``model`` on ``dataset_loader_train``; persist and activate it unless told not to."""
    result = _fit(
        get_config(__mode__="fit"),
        persist=persist,
        activate=activate,
        evaluate=evaluate,
        persist_if_better_than=persist_if_better_than,
    )
    return result.model


def activate(model_version: int) -> None:
    """Activate the stored ``model_version`` of ``model_persister``."""
    get_config(__mode__="fit")["model_persister"].activate(int(model_version))


def delete(model_version: int) -> None:
    """Delete the stored ``model_version`` of ``model_persister``."""
    get_config(__mode__="fit")["model_persister"].delete(int(model_version))


def run_command(command: str, script: str, argv: Sequence[str] | None) -> None:
    """Run ``pld <command>`` with ``argv`` (default: this process's arguments) as ``script``."""
    args = list(sys.argv[1:] if argv is None else argv)
    make_cli(defer_clashes=True).main(args=[command, *args], prog_name=script)


def fit_cmd(argv: Sequence[str] | None = None) -> None:
    """``pld-fit``."""
    run_command("fit", "pld-fit", argv)


def admin_cmd(argv: Sequence[str] | None = None) -> None:
    """``pld-admin``."""
    run_command("admin", "pld-admin", argv)


def grid_search_cmd(argv: Sequence[str] | None = None) -> None:
    """``pld-grid-search``."""
    run_command("grid-search", "pld-grid-search", argv)
