"""pld-julia: Julia models for pld, through juliacall.

This distribution is a skeleton. It installs, and its ``pld_julia`` entry point loads, but it
registers no components yet: Julia support arrives in its own issue. ``juliacall`` is an optional
extra (``pip install pld-julia[julia]``) and is never imported at module top, so installing
pld-julia keeps ``pld plugins`` and server start-up fast.
"""

from __future__ import annotations

from typing import Any

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pld-julia")
        except PackageNotFoundError:  # pragma: no cover - only when run from a bare checkout
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
