"""``palladium.eval``: ``test`` and the ``pld-test``/``pld-list`` entries."""

from __future__ import annotations

from collections.abc import Sequence

from palladium.fit import run_command
from pld_core import get_config, run_task

__all__ = ["list_cmd", "test", "test_cmd"]


def test(model_version: int | None = None) -> list[str]:
    """Score the active (or the given) model on ``dataset_loader_test``; Palladium's
    ``['<scorer>: <value>', ...]``."""
    result = run_task(get_config(__mode__="fit"), "test", model_version=model_version)
    return [f"{name}: {value}" for name, value in result.scores.items()]


test.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def test_cmd(argv: Sequence[str] | None = None) -> None:
    """``pld-test``."""
    run_command("test", "pld-test", argv)


def list_cmd(argv: Sequence[str] | None = None) -> None:
    """``pld-list``."""
    run_command("list", "pld-list", argv)
