"""pld-r: R models and dataset loaders for pld, through rpy2.

The components live in :mod:`pld_r.dataset`, :mod:`pld_r.models` and :mod:`pld_r.transform`;
:mod:`pld_r.hooks` registers them. rpy2 is imported only when an R component is used.
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
