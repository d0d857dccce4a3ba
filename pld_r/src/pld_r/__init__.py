"""pld-r: R models and dataset loaders for pld, through rpy2.

This distribution is a skeleton. It installs, and its ``pld_r`` entry point loads, but it
registers no components yet: R support arrives in its own issue. ``rpy2`` is an optional extra
(``pip install pld-r[r]``) and is never imported at module top, so installing pld-r keeps
``pld plugins`` and server start-up fast.
"""

from __future__ import annotations

from typing import Any

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pld-r")
        except PackageNotFoundError:  # pragma: no cover - only when run from a bare checkout
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
