"""The small surface over juliacall that the Julia models use.

Everything that touches Julia goes through :class:`JuliaSession`, so the models stay plain
Python and the tests can swap juliacall for a test double. juliacall is imported in
:func:`get_session`, never at module top: importing it starts Julia, which takes seconds.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from pld_core import PldError

__all__ = [
    "HELPERS",
    "JuliaFunctionError",
    "JuliaSession",
    "JuliaUnavailableError",
    "find_julia",
    "get_session",
]

PREFIX = "Julia models need juliacall and Julia: "
INSTALL_HINT = (
    "To install: `pip install juliacall`, and Julia from https://julialang.org/downloads or "
    "with juliaup; then put `julia` on PATH or set PYTHON_JULIAPKG_EXE to its path."
)

# Environment variables naming a Julia executable (juliacall's and juliapkg's own) or its folder.
JULIA_EXE_VARIABLES = ("PYTHON_JULIACALL_EXE", "PYTHON_JULIAPKG_EXE")
JULIA_BINDIR_VARIABLE = "PYTHON_JULIACALL_BINDIR"
# Lets juliacall download Julia itself when none is found (off by default: a download at the
# first fit is a surprise, and where the network is closed it only fails slowly).
AUTO_INSTALL_VARIABLE = "PLD_JULIA_AUTO_INSTALL"

# Julia snippets evaluated once per session. Converting to native Julia arrays keeps the
# fitted state free of Python-backed arrays, so Serialization can write it.
HELPERS = {
    "to_matrix": "x -> Matrix{Float64}(x)",
    "to_vector": "y -> Vector(y)",
    "serialize": "obj -> (io = IOBuffer(); Serialization.serialize(io, obj); take!(io))",
    "deserialize": "v -> Serialization.deserialize(IOBuffer(Vector{UInt8}(v)))",
}

_IDENT = r"[^\W\d]\w*!?"
_DOTTED = re.compile(rf"{_IDENT}(\.{_IDENT})*")

_SESSION: JuliaSession | None = None
# One Julia runtime per process, and juliacall is not made for concurrent calls from several
# Python threads (a threaded server): every call into Julia holds this lock.
_LOCK = threading.RLock()


class JuliaUnavailableError(PldError):
    """juliacall or Julia is missing; the message says how to install both."""


class JuliaFunctionError(PldError):
    """A Julia function (or the import that provides it) raised; the message names it."""


def find_julia() -> str | None:
    """The Julia executable juliacall would use without downloading one, or ``None``."""
    for variable in JULIA_EXE_VARIABLES:
        value = os.environ.get(variable)
        if value:
            return shutil.which(value)
    bindir = os.environ.get(JULIA_BINDIR_VARIABLE)
    if bindir:
        return shutil.which("julia", path=bindir)
    return shutil.which("julia") or shutil.which("juliaup")


def _juliacall_installed() -> bool:
    return importlib.util.find_spec("juliacall") is not None


def _import_juliacall() -> ModuleType:
    """Import juliacall (which starts Julia), or raise the one clear error."""
    loaded = sys.modules.get("juliacall")
    if loaded is not None:  # already imported: Julia is running in this process
        return loaded
    if not _juliacall_installed():
        raise JuliaUnavailableError(f"{PREFIX}juliacall is not installed. {INSTALL_HINT}")
    auto_install = os.environ.get(AUTO_INSTALL_VARIABLE, "").lower() in ("1", "yes", "true")
    if not auto_install and find_julia() is None:
        raise JuliaUnavailableError(
            f"{PREFIX}no Julia executable found. {INSTALL_HINT} Or set "
            f"{AUTO_INSTALL_VARIABLE}=yes to let juliacall download Julia."
        )
    try:
        import juliacall
    except Exception as exc:  # juliacall reports Julia start-up failures as plain exceptions
        raise JuliaUnavailableError(
            f"{PREFIX}juliacall could not start Julia ({_one_line(exc)}). {INSTALL_HINT}"
        ) from exc
    module: ModuleType = juliacall
    return module


def get_session() -> JuliaSession:
    """The process's Julia session, started on first use (one Julia runtime per process)."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            _SESSION = JuliaSession(_import_juliacall())
        return _SESSION


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """The error message on one line: Julia's text before its stack trace, lines joined."""
    text = str(exc).split("\nStacktrace:")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    summary = " ".join(lines[:3]) or type(exc).__name__
    return summary if len(summary) <= limit else summary[: limit - 3] + "..."


class JuliaSession:
    """Julia's ``Main`` module seen from Python: imports, includes, calls and conversions."""

    def __init__(self, juliacall: ModuleType):
        self.juliacall = juliacall
        self.main = juliacall.Main
        self._functions: dict[str, Any] = {}
        self._included: set[str] = set()
        self._loaded: set[str] = set()
        self.main.seval("using Serialization")
        self._helpers = {name: self.main.seval(code) for name, code in HELPERS.items()}

    def include(self, path: str | os.PathLike[str]) -> None:
        """``include()`` a Julia file once per session; a relative path is taken from the cwd."""
        with _LOCK:
            self._include(path)

    def _include(self, path: str | os.PathLike[str]) -> None:
        resolved = str(Path(path).resolve())
        if resolved in self._included:
            return
        if not Path(resolved).is_file():
            raise JuliaFunctionError(f"Julia file {str(path)!r} not found (looked at {resolved})")
        try:
            self.main.include(resolved)
        except self.juliacall.JuliaError as exc:
            raise JuliaFunctionError(
                f"Julia file {resolved} failed to load: {_one_line(exc)}"
            ) from exc
        self._included.add(resolved)

    def function(self, name: str) -> Any:
        """The Julia function with dotted ``name``: ``SVM.svm`` imports SVM, then looks it up."""
        with _LOCK:
            return self._function(name)

    def _function(self, name: str) -> Any:
        if name in self._functions:
            return self._functions[name]
        if not isinstance(name, str) or not _DOTTED.fullmatch(name):
            raise JuliaFunctionError(f"{name!r} is not a dotted Julia name such as 'SVM.svm'")
        top = name.split(".")[0]
        if "." in name and top not in self._loaded:
            self._load_module(top)
        try:
            function = self.main.seval(name)
        except self.juliacall.JuliaError as exc:
            raise JuliaFunctionError(
                f"Julia function {name} is not defined: {_one_line(exc)}"
            ) from exc
        self._functions[name] = function
        return function

    def _load_module(self, top: str) -> None:
        """``import Top`` unless Main already has it (Base, or a module from an included file)."""
        if not self.main.seval(f"isdefined(Main, :{top})"):
            try:
                self.main.seval(f"import {top}")
            except self.juliacall.JuliaError as exc:
                raise JuliaFunctionError(
                    f"Julia package {top} could not be loaded ({_one_line(exc)}); install it "
                    f"into Julia, e.g. julia -e 'using Pkg; Pkg.add(\"{top}\")'"
                ) from exc
        self._loaded.add(top)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call Julia function ``name``; a Julia exception becomes a PldError naming it."""
        with _LOCK:
            try:
                return self._function(name)(*args, **kwargs)
            except self.juliacall.JuliaError as exc:
                message = f"Julia function {name} failed: {_one_line(exc)}"
                raise JuliaFunctionError(message) from exc

    def to_matrix(self, X: Any) -> Any:
        """A native Julia ``Matrix{Float64}`` copied from a 2-d float64 numpy array."""
        with _LOCK:
            return self._helpers["to_matrix"](X)

    def to_vector(self, y: Any) -> Any:
        """A native Julia ``Vector`` copied from a 1-d numeric numpy array."""
        with _LOCK:
            return self._helpers["to_vector"](y)

    def to_numpy(self, value: Any) -> Any:
        """A numpy array copied from what a Julia function returned."""
        with _LOCK:
            return to_numpy(value)

    def serialize(self, value: Any) -> bytes:
        """``value`` written with Julia's Serialization, as Python bytes."""
        try:
            with _LOCK:
                return bytes(to_numpy(self._helpers["serialize"](value)).astype("uint8").tobytes())
        except self.juliacall.JuliaError as exc:
            raise JuliaFunctionError(
                f"Julia's Serialization could not write the fitted state: {_one_line(exc)}"
            ) from exc

    def deserialize(self, data: bytes) -> Any:
        """The Julia value that :meth:`serialize` wrote into ``data``."""
        import numpy

        try:
            with _LOCK:
                return self._helpers["deserialize"](
                    numpy.frombuffer(bytearray(data), dtype=numpy.uint8)
                )
        except self.juliacall.JuliaError as exc:
            raise JuliaFunctionError(
                f"Julia's Serialization could not read the stored state ({_one_line(exc)}); "
                "it needs the Julia file or packages that define its types, and the Julia "
                "version that wrote it"
            ) from exc


def to_numpy(value: Any) -> Any:
    """A numpy array from a juliacall array wrapper (``to_numpy``) or anything array-like."""
    import numpy

    if hasattr(value, "to_numpy"):
        return numpy.asarray(value.to_numpy())
    return numpy.asarray(value)
