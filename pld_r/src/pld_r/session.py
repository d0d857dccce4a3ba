"""The one embedded R of this process: lazy start, sourced scripts, conversion and R errors.

rpy2 is imported on first use, never at module import, so registering the plugin stays cheap.
Conversion goes through :func:`using` blocks only (a converter built once, set for the block):
the deprecated global ``pandas2ri.activate()`` would change conversion for every other rpy2
user in the process. The predict path calls R at rpy2's ``rinterface`` level, with no
conversion at all: a numeric matrix (or data.frame) in, R's numbers read in place.
R is single-threaded, so every call into it holds one process-wide lock.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from pld_core import PldError

logger = logging.getLogger(__name__)
console = logging.getLogger("pld_r.console")

lock = threading.RLock()
_depth = threading.local()  # how deep this thread is in rcontext(): only the outermost sets up
_scripts: dict[str, Any] = {}  # absolute path -> the R environment the script was sourced into
_captured: list[tuple[str, str]] | None = None  # R's console output during a call


class RError(PldError):
    """R failed: the message names the script, the function and what R said."""


_console_routed = False


_robjects: Any = None


def r() -> Any:
    """``rpy2.robjects`` with R started and its console routed to logging."""
    global _robjects
    if _robjects is not None:
        return _robjects
    if not _console_routed:
        rpy2_logger = logging.getLogger("rpy2")
        if rpy2_logger.level == logging.NOTSET:  # its start-up chatter is not news at INFO
            rpy2_logger.setLevel(logging.WARNING)
    library_path = os.environ.get("LD_LIBRARY_PATH")
    import rpy2.robjects as robjects

    _restore_library_path(library_path)
    _route_console(robjects)
    if _robjects is None and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork)
    _robjects = robjects
    return robjects


def started() -> bool:
    """Whether this process has started R (through :func:`r`)."""
    return _robjects is not None


def _after_fork() -> None:
    """In a child forked with R running (a gunicorn worker of a preloading master).

    The child shares R's session temp directory with its parent: rpy2's exit handler would
    delete it when the child exits, under the parent and the other children. The parent
    cleans up R. A lock another thread held at the fork would never be released here.
    """
    import atexit

    from rpy2.rinterface_lib import embedded

    global lock
    atexit.unregister(embedded.endr)
    lock = threading.RLock()


def _restore_library_path(value: str | None) -> None:
    """Undo rpy2's ``LD_LIBRARY_PATH``: R is loaded by now, and child processes inherit it.

    With the system library folder first on it, another Python started from this process
    (a subprocess, a tool) can load the system's libpython instead of its own and lose its
    site-packages.
    """
    if os.environ.get("LD_LIBRARY_PATH") == value:
        return
    if value is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = value


def _route_console(robjects: Any) -> None:
    global _console_routed
    if _console_routed:
        return
    from rpy2.rinterface_lib import callbacks

    callbacks.consolewrite_print = _print
    callbacks.consolewrite_warnerror = _warnerror
    with lock, using(robjects.default_converter):
        robjects.r("options(warn = 1)")  # warnings as they happen, not at a top level
    _console_routed = True


def _print(text: str) -> None:
    if _captured is not None:
        _captured.append(("out", text))
    else:
        _log("out", text)


def _warnerror(text: str) -> None:
    if _captured is not None:
        _captured.append(("err", text))
    else:
        _log("err", text)


def _log(stream: str, text: str) -> None:
    """stdout logs at INFO; stderr carries messages and warnings: only warnings log as such."""
    text = text.strip("\n")
    if not text.strip():
        return
    warning = stream == "err" and text.lstrip().startswith("Warning")
    console.log(logging.WARNING if warning else logging.INFO, text)


def _flush(captured: list[tuple[str, str]], failed: bool) -> None:
    """Log what R wrote during a call: stdout as one record, stderr one record per message.

    After a failure R's stderr holds the error message, which the exception carries: it is
    dropped, so that the error is reported once.
    """
    if not captured:  # the usual call: R wrote nothing
        return
    _log("out", "".join(text for stream, text in captured if stream == "out"))
    if failed:
        return
    block: list[str] = []
    for line in "".join(text for stream, text in captured if stream == "err").splitlines():
        if block and not line.startswith(" "):  # continuation lines of a message are indented
            _log("err", "\n".join(block))
            block = []
        block.append(line)
    _log("err", "\n".join(block))


_converter: Any = None
_base: dict[str, Any] = {}


class _Calls:
    count = 0  # calls into R through :func:`call` (predicts), since pld_r.collect looked


calls = _Calls()


def converter() -> Any:
    """numpy and pandas conversion, for use in :func:`using` blocks (built once)."""
    global _converter
    if _converter is None:
        from rpy2.robjects import default_converter, numpy2ri, pandas2ri

        _converter = default_converter + numpy2ri.converter + pandas2ri.converter
    return _converter


def base(name: str) -> Any:
    """The R function ``name`` from R's search path (``predict``, ...), looked up once."""
    function = _base.get(name)
    if function is None:
        robjects = r()
        with rcontext():
            function = _base[name] = robjects.r[name]
    return function


@contextmanager
def using(rules: Any) -> Iterator[Any]:
    """Make the converter ``rules`` rpy2's current one for this block, as it is.

    rpy2's ``localconverter`` copies the converter on every entry: the copy's
    ``functools.singledispatch`` tables start with empty caches, so each conversion in the
    block works out its type's MRO again (~900 µs per single-row predict, most of the cost
    issue 20 could not account for). Setting the context variable to the converter built
    once keeps its caches warm. Nothing here registers rules, so sharing it is safe.
    """
    from rpy2.robjects.conversion import converter_ctx

    token = converter_ctx.set(rules)
    try:
        yield rules
    finally:
        converter_ctx.reset(token)


def to_r(value: Any) -> Any:
    """A Python value (array, DataFrame, Series, scalar) as an R object."""
    with using(converter()) as cv:
        return cv.py2rpy(value)


def to_py(value: Any) -> Any:
    """An R object as numpy / pandas."""
    with using(converter()) as cv:
        return cv.rpy2py(value)


def to_numpy(value: Any) -> Any:
    """An R vector or matrix as a numpy array, read in place; other R objects through pandas."""
    import numpy
    from rpy2.robjects.vectors import DataFrame

    if isinstance(value, DataFrame):
        return to_py(value).to_numpy()
    return numpy.asarray(value)


def numeric_frame(array: Any, names: list[str]) -> Any:
    """A numeric 2-d array as an R data.frame with ``names``: the fast way for request rows.

    pandas and its per-column conversion cost milliseconds per request, and so does R's
    ``as.data.frame``; building the list of columns with data.frame attributes costs a
    fraction of that.
    """
    import numpy
    from rpy2 import rinterface

    r()
    baseenv = rinterface.baseenv
    with rcontext():  # R allocates here: under the lock, like every other call into R
        columns = [
            rinterface.FloatSexpVector.from_memoryview(
                numpy.ascontiguousarray(array[:, j], dtype=float).data
            )
            for j in range(array.shape[1])
        ]
        frame = rinterface.ListSexpVector(columns)
        # R's own setters, not raw attributes: they set the object bit and check row names.
        frame = baseenv["names<-"](frame, rinterface.StrSexpVector(names))
        row_names = rinterface.IntSexpVector([rinterface.NA_Integer, -array.shape[0]])
        frame = baseenv["attr<-"](frame, "row.names", row_names)
        return baseenv["class<-"](frame, "data.frame")


def numeric_matrix(array: Any, names: list[str] | None) -> Any:
    """A numeric 2-d array as an R double matrix with column ``names``: one copy, no pandas.

    The cheapest input R's ``predict`` methods take: one vector in R's column order plus
    ``dim`` and ``dimnames``, whatever the number of rows. Built through R's C API: rpy2's
    constructors (an integer vector for ``dim`` from a Python list, slot assignments) cost
    more than the rest of a one-row call's preparation together.
    """
    import numpy
    from rpy2.rinterface_lib import conversion, openrlib

    r()
    values = numpy.asarray(array, dtype=float)
    if values.ndim == 1:
        values = values.reshape(1, -1)
    rows, cols = values.shape
    if names is not None and len(names) != cols:
        raise RError(f"the R model takes {len(names)} columns {names}, not {cols}")
    columns = numpy.ascontiguousarray(values.T)  # column after column, as R keeps a matrix
    rlib, ffi = openrlib.rlib, openrlib.ffi
    with rcontext():  # R allocates: under the lock, the new objects protected until rpy2 holds
        if not _symbols:
            _symbols["dimnames"] = rlib.Rf_install(b"dimnames")
        dimnames = None if names is None else _dimnames(names).__sexp__._cdata
        matrix = rlib.Rf_protect(rlib.Rf_allocVector(rlib.REALSXP, rows * cols))
        dim = rlib.Rf_protect(rlib.Rf_allocVector(rlib.INTSXP, 2))
        if columns.size:
            ffi.memmove(rlib.REAL(matrix), ffi.from_buffer(columns), columns.nbytes)
        rlib.INTEGER(dim)[0], rlib.INTEGER(dim)[1] = rows, cols
        rlib.Rf_setAttrib(matrix, rlib.R_DimSymbol, dim)  # rows * cols values: R accepts it
        if dimnames is not None:  # one name per column, checked above: R accepts it
            rlib.Rf_setAttrib(matrix, _symbols["dimnames"], dimnames)
        try:
            return conversion._cdata_to_rinterface(matrix)
        finally:
            rlib.Rf_unprotect(2)


_dimnames_made: dict[tuple[str, ...], Any] = {}


def _dimnames(names: list[str]) -> Any:
    """R's ``list(NULL, names)`` for a matrix, built once per set of names (a model's)."""
    key = tuple(names)
    found = _dimnames_made.get(key)
    if found is None:
        from rpy2 import rinterface

        if len(_dimnames_made) > 64:  # a bound, for callers with ever new names
            _dimnames_made.clear()
        found = _dimnames_made[key] = rinterface.ListSexpVector(
            [rinterface.NULL, rinterface.StrSexpVector(names)]
        )
    return found


def call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the R ``function`` at rpy2's ``rinterface`` level: R objects in, R object out.

    ``robjects.Function`` converts every argument and the answer through the current
    converter; R objects need none of that. Plain Python scalars in ``kwargs`` are fine.
    """
    from rpy2 import rinterface

    calls.count += 1  # what :mod:`pld_r.collect` learns R's collection interval from
    return rinterface.SexpClosure.__call__(function, *args, **kwargs)


def read_numbers(value: Any) -> tuple[list[str] | None, Any] | None:
    """An R double/integer vector or matrix as (column names, 2-d float array), copied once.

    A vector is one column; ``None`` when ``value`` is something else (a data.frame, a
    factor...), which the caller converts the general way. A double vector or matrix (what
    ``predict`` methods answer) is read through R's C API: rpy2's wrappers for the
    attributes and strings would cost more than the rest of this function.
    """
    import numpy
    from rpy2 import rinterface

    if isinstance(value, rinterface.FloatSexpVector):
        return _read_doubles(value)
    if not isinstance(value, rinterface.IntSexpVector):
        return None
    if "class" in value.list_attrs() and "factor" in list(value.do_slot("class")):
        return None
    data = numpy.array(value.memoryview(), dtype=float)  # rpy2 shapes it as R's dim
    if data.ndim == 1:
        return None, data.reshape(-1, 1)
    return (None, data) if data.ndim == 2 else None


_symbols: dict[str, Any] = {}


def _read_doubles(value: Any) -> tuple[list[str] | None, Any] | None:
    import numpy
    from rpy2.rinterface_lib import openrlib

    rlib, ffi = openrlib.rlib, openrlib.ffi
    if not _symbols:
        _symbols["dimnames"] = rlib.Rf_install(b"dimnames")
    sexp = value.__sexp__._cdata
    length = rlib.Rf_xlength(sexp)
    data = numpy.frombuffer(ffi.buffer(rlib.REAL(sexp), 8 * length), dtype=float).copy()
    dim = rlib.Rf_getAttrib(sexp, rlib.R_DimSymbol)
    if dim == rlib.R_NilValue:
        return None, data.reshape(-1, 1)
    if rlib.Rf_xlength(dim) != 2:
        return None
    rows, cols = rlib.INTEGER(dim)[0], rlib.INTEGER(dim)[1]
    matrix = data.reshape(cols, rows).T  # R is column-major
    names = None
    dimnames = rlib.Rf_getAttrib(sexp, _symbols["dimnames"])
    if dimnames != rlib.R_NilValue:
        colnames = rlib.VECTOR_ELT(dimnames, 1)
        if colnames != rlib.R_NilValue and rlib.Rf_xlength(colnames) == cols:
            names = [
                ffi.string(rlib.R_CHAR(rlib.STRING_ELT(colnames, i))).decode() for i in range(cols)
            ]
    return names, matrix


def read_table(value: Any) -> tuple[list[str] | None, Any]:
    """Any R answer of a predict method as (column names, 2-d array): numbers read in place,
    anything else (a data.frame, a factor) through numpy / pandas conversion."""
    import numpy
    import pandas

    numbers = read_numbers(value)
    if numbers is not None:
        return numbers
    converted = to_py(value)
    if isinstance(converted, pandas.DataFrame):
        return [str(c) for c in converted.columns], converted.to_numpy()
    if isinstance(converted, pandas.Categorical):
        return None, numpy.asarray(converted.astype(object)).reshape(-1, 1)
    array = numpy.asarray(converted)
    return None, array.reshape(array.shape[0], -1) if array.ndim else array.reshape(1, 1)


def attempt(func: Callable[[], Any]) -> tuple[bool, Any]:
    """``(True, func())``, or ``(False, None)`` when R fails; R's output of the failure is
    dropped. For trying an input form inside :func:`calling`."""
    from rpy2.rinterface_lib.embedded import RRuntimeError

    mark = len(_captured) if _captured is not None else 0
    try:
        return True, func()
    except RRuntimeError:
        if _captured is not None:
            del _captured[mark:]
        return False, None


def _one_line(exc: BaseException) -> str:
    """R's message on one line, without the deparsed call (for rpy2, often a whole function)."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    if text.startswith("Error in ") and " : " in text:
        text = text.split(" : ", 1)[1]
    return text.removeprefix("Error: ").strip() or type(exc).__name__


@contextmanager
def rcontext() -> Iterator[None]:
    """Hold R's lock with rpy2's default conversion active.

    rpy2 keeps its conversion rules in a ``ContextVar``: a thread the server starts for a
    request has none, and any R call there would fail without this.
    """
    from rpy2.robjects import default_converter

    if getattr(_depth, "value", 0):  # nested: the context is active already (and cheap to keep)
        _depth.value += 1
        try:
            yield
        finally:
            _depth.value -= 1
        return
    with lock, using(default_converter):
        _depth.value = 1
        try:
            yield
        finally:
            _depth.value = 0


@contextmanager
def calling(scriptname: str, funcname: str) -> Iterator[None]:
    """Run R code for ``funcname`` of ``scriptname``; R errors become one :class:`RError`."""
    from rpy2.rinterface_lib.embedded import RRuntimeError

    global _captured
    with rcontext():
        outer, captured = _captured, cast(list[tuple[str, str]], [])
        _captured = captured
        failed = True
        try:
            yield
            failed = False
        except RRuntimeError as exc:
            raise RError(f"R error in {funcname}() of {scriptname}: {_one_line(exc)}") from None
        finally:
            _captured = outer
            if outer is not None:
                outer.extend(captured)
            else:
                _flush(captured, failed)


def script(scriptname: str, funcname: str) -> Any:
    """The R environment of ``scriptname``, sourced once per process (path from the cwd)."""
    path = os.path.abspath(scriptname)
    env = _scripts.get(path)
    if env is not None:
        return env
    robjects = r()
    with lock:
        env = _scripts.get(path)
        if env is not None:
            return env
        if not os.path.isfile(path):
            raise RError(f"R script {scriptname} (for {funcname}()) not found: {path}")
        with calling(scriptname, funcname):
            env = robjects.r["new.env"]()
            try:
                robjects.r["source"](path, local=env)
            except Exception as exc:
                raise RError(
                    f"R error sourcing {scriptname} (for {funcname}()): {_one_line(exc)}"
                ) from None
        _scripts[path] = env
        logger.debug("sourced R script %s", path)
        return env


def function(scriptname: str, funcname: str) -> Callable[..., Any]:
    """The R function ``funcname`` defined by ``scriptname``."""
    env = script(scriptname, funcname)
    robjects = r()
    with rcontext():
        found = robjects.r["exists"](funcname, envir=env, mode="function")[0]
        if not found:
            raise RError(f"R script {scriptname} defines no function {funcname}()")
        return cast(Callable[..., Any], robjects.r["get"](funcname, envir=env, mode="function"))


def forget_scripts() -> None:
    """Source every script again on next use (tests, or a process that edits its scripts)."""
    with lock:
        _scripts.clear()


def serialize(robject: Any) -> bytes:
    """R's own serialization of ``robject``, as bytes for pickle."""
    import numpy

    robjects = r()
    with rcontext():  # numpy reads the raw vector in place; bytes(raw) would go byte by byte
        return numpy.asarray(robjects.r["serialize"](robject, robjects.NULL)).tobytes()


def unserialize(data: bytes) -> Any:
    """The R object that :func:`serialize` turned into ``data``."""
    from rpy2.rinterface import ByteSexpVector

    robjects = r()
    with rcontext():
        return robjects.r["unserialize"](ByteSexpVector.from_memoryview(memoryview(data)))
