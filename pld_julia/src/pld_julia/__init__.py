"""pld-julia: Julia models for pld, through juliacall (PythonCall.jl).

Registers ``julia-classifier`` and ``julia-regressor`` (Palladium's
``palladium.julia.ClassificationModel`` and ``RegressionModel``). juliacall is imported only
when a Julia model first fits, predicts or is unpickled, never when the plugin loads.
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
