"""TEST DOUBLE for juliacall -- not juliacall, and no Julia runs here.

No Julia runtime can be installed on the machines these tests run on, so the Python side of
pld-julia is tested against this stand-in for the few parts of juliacall that
``pld_julia.bridge`` uses:

* ``Main.seval(code)`` for exactly the code the bridge sends: ``using Serialization``,
  ``isdefined(Main, :X)``, ``import X``, a dotted function name, and the snippets in
  ``pld_julia.bridge.HELPERS``. Anything else fails loudly, so a change in the bridge shows up.
* ``Main.include(path)``: reads the file's ``module`` and ``function`` names and binds the Python
  implementations below (the example's nearest-centroid classifier).
* ``JuliaError`` with ``.exception``, raised like juliacall raises Julia exceptions.
* Returned arrays are wrappers with ``to_numpy()``, like juliacall's ``ArrayValue``.

The fake functions behave like their Julia originals where the tests look: they take X as
features x samples (a DimensionMismatch otherwise), accept only their keyword arguments (a
MethodError otherwise) and return opaque values that only the fake Serialization can write.
Every call is recorded in ``calls`` so tests can check what crossed the bridge.

Install it with the ``fake_julia`` fixture (conftest.py): it becomes ``sys.modules['juliacall']``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"FAKE-JULIA-SERIALIZATION\n"


class Call:
    """One call that crossed the fake bridge."""

    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None):
        self.name = name
        self.args = args
        self.kwargs = kwargs or {}

    def __repr__(self) -> str:
        return f"Call({self.name!r}, {len(self.args)} args, {self.kwargs!r})"


calls: list[Call] = []
included: list[str] = []


class JuliaException:
    """A Julia exception value (what ``JuliaError.exception`` holds)."""

    def __init__(self, type_name: str, message: str, shown: str | None = None):
        self.type_name = type_name
        self.message = message
        self.shown = shown or f"{type_name}: {message}"  # what Julia's showerror prints

    def __repr__(self) -> str:
        return f"{self.type_name}({self.message!r})"


class JuliaError(Exception):
    """Like juliacall.JuliaError: an exception raised in Julia code."""

    def __init__(self, exception: JuliaException, backtrace: Any = None):
        super().__init__(exception, backtrace)

    @property
    def exception(self) -> JuliaException:
        return self.args[0]

    def __str__(self) -> str:  # Julia's showerror: the error, then a stack trace
        return f"{self.exception.shown}\nStacktrace:\n [1] top-level scope\n   @ none:1"


def julia_error(type_name: str, message: str, shown: str | None = None) -> JuliaError:
    return JuliaError(JuliaException(type_name, message, shown))


class JuliaArray:
    """A native Julia array seen from Python (juliacall's ArrayValue)."""

    def __init__(self, data: Any):
        self.data = np.array(data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def to_numpy(self) -> Any:
        return self.data.copy()


class JuliaStruct:
    """An opaque Julia struct instance, e.g. a fitted model."""

    def __init__(self, type_name: str, fields: dict[str, Any]):
        self.type_name = type_name
        self.fields = fields


# -- the Julia functions this double knows ---------------------------------------------------


def _require_array(function: str, value: Any, ndim: int) -> Any:
    if not isinstance(value, JuliaArray) or value.data.ndim != ndim:
        raise julia_error("MethodError", f"no method matching {function}(::{type(value).__name__})")
    return value.data


def _check_kwargs(function: str, kwargs: dict[str, Any], allowed: set[str]) -> None:
    for name in kwargs:
        if name not in allowed:
            raise julia_error(
                "MethodError", f'{function}: got unsupported keyword argument "{name}"'
            )


def centroid_fit(X: Any, y: Any, **kwargs: Any) -> JuliaStruct:
    """NearestCentroid.fit(X, y; shrinkage=0.0), X features x samples."""
    _check_kwargs("fit", kwargs, {"shrinkage"})
    X, y = _require_array("fit", X, 2), _require_array("fit", y, 1)
    if X.shape[1] != len(y):
        raise julia_error(
            "DimensionMismatch",
            f"X has {X.shape[1]} samples (columns) but y has {len(y)} labels",
        )
    shrinkage = float(kwargs.get("shrinkage", 0.0))
    if not 0 <= shrinkage <= 1:
        message = "shrinkage must be between 0 and 1"
        raise julia_error("DomainError", message, f"DomainError with {shrinkage}:\n{message}")
    classes = np.unique(y)
    overall = X.mean(axis=1)
    centroids = np.column_stack(
        [(1 - shrinkage) * X[:, y == c].mean(axis=1) + shrinkage * overall for c in classes]
    )
    return JuliaStruct("NearestCentroid.Model", {"classes": classes, "centroids": centroids})


def centroid_predict(model: Any, X: Any, **kwargs: Any) -> JuliaArray:
    """NearestCentroid.predict(model, X), X features x samples."""
    _check_kwargs("predict", kwargs, set())
    if not isinstance(model, JuliaStruct) or model.type_name != "NearestCentroid.Model":
        raise julia_error("MethodError", f"no method matching predict(::{type(model).__name__})")
    X = _require_array("predict", X, 2)
    centroids = model.fields["centroids"]
    if X.shape[0] != centroids.shape[0]:
        raise julia_error(
            "DimensionMismatch", f"X has {X.shape[0]} features, the model {centroids.shape[0]}"
        )
    distances = ((X[:, :, None] - centroids[:, None, :]) ** 2).sum(axis=0)
    return JuliaArray(model.fields["classes"][distances.argmin(axis=1)])


def least_squares_fit(X: Any, y: Any, **kwargs: Any) -> JuliaStruct:
    """LeastSquares.fit(X, y; intercept=true): a linear regression, X features x samples."""
    _check_kwargs("fit", kwargs, {"intercept"})
    X, y = _require_array("fit", X, 2), _require_array("fit", y, 1)
    if X.shape[1] != len(y):
        raise julia_error("DimensionMismatch", f"{X.shape[1]} samples but {len(y)} targets")
    design = X.T
    if kwargs.get("intercept", True):
        design = np.column_stack([design, np.ones(len(y))])
    coefficients, *_ = np.linalg.lstsq(design, y.astype(float), rcond=None)
    intercept = bool(kwargs.get("intercept", True))
    return JuliaStruct("LeastSquares.Fit", {"coef": coefficients, "intercept": np.array(intercept)})


def least_squares_predict(model: Any, X: Any, **kwargs: Any) -> JuliaArray:
    """LeastSquares.predict(fit, X)."""
    _check_kwargs("predict", kwargs, set())
    X = _require_array("predict", X, 2)
    design = X.T
    if bool(model.fields["intercept"]):
        design = np.column_stack([design, np.ones(X.shape[1])])
    return JuliaArray(design @ model.fields["coef"])


#: Functions found in included files, by ``Module.function``.
FILE_FUNCTIONS = {
    "NearestCentroid.fit": centroid_fit,
    "NearestCentroid.predict": centroid_predict,
}
#: Installed Julia packages: what ``import Name`` makes available.
PACKAGES = {
    "LeastSquares": {"fit": least_squares_fit, "predict": least_squares_predict},
}
#: Types a module defines (Serialization needs them to read a value back).
TYPES = {"NearestCentroid": ["Model"], "LeastSquares": ["Fit"]}


# -- the bridge's helper snippets ------------------------------------------------------------


def _to_matrix(x: Any) -> JuliaArray:
    calls.append(Call("to_matrix", (x,)))
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        raise julia_error("MethodError", f"no method matching Matrix{{Float64}}(::{type(x)})")
    return JuliaArray(x.astype(np.float64))


def _to_vector(y: Any) -> JuliaArray:
    calls.append(Call("to_vector", (y,)))
    if not isinstance(y, np.ndarray) or y.ndim != 1:
        raise julia_error("MethodError", f"no method matching Vector(::{type(y)})")
    return JuliaArray(y)


def _serialize(value: Any) -> JuliaArray:
    calls.append(Call("serialize", (value,)))
    if not isinstance(value, JuliaStruct):
        raise julia_error("ErrorException", f"cannot serialize {type(value).__name__}")
    buffer = io.BytesIO()
    np.savez(buffer, __type__=np.array(value.type_name), **value.fields)
    return JuliaArray(np.frombuffer(MAGIC + buffer.getvalue(), dtype=np.uint8))


def _deserialize(data: Any) -> JuliaStruct:
    calls.append(Call("deserialize", (data,)))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        raise julia_error("MethodError", f"no method matching Vector{{UInt8}}(::{type(data)})")
    raw = data.tobytes()
    if not raw.startswith(MAGIC):
        raise julia_error("ErrorException", "not a Julia serialization stream")
    with np.load(io.BytesIO(raw[len(MAGIC) :]), allow_pickle=False) as stored:
        fields = {name: stored[name] for name in stored.files if name != "__type__"}
        type_name = str(stored["__type__"])
    module, name = type_name.split(".")
    if name not in Main.types.get(module, ()):
        raise julia_error("UndefVarError", f"`{module}` not defined in `Main`")
    return JuliaStruct(type_name, fields)


def _helper_code() -> dict[str, Any]:
    from pld_julia.bridge import HELPERS

    implementations = {
        "to_matrix": _to_matrix,
        "to_vector": _to_vector,
        "serialize": _serialize,
        "deserialize": _deserialize,
    }
    return {HELPERS[name]: function for name, function in implementations.items()}


def _recorded(name: str, function: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        calls.append(Call(name, args, kwargs))
        return function(*args, **kwargs)

    return call


class _Main:
    """Julia's Main module, as far as the bridge uses it."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {}
        self.types: dict[str, list[str]] = {}
        self.modules: set[str] = {"Base", "Core", "Main"}
        self.serialization = False

    def seval(self, code: str) -> Any:
        calls.append(Call("seval", (code,)))
        helpers = _helper_code()
        if code in helpers:
            if not self.serialization and "Serialization" in code:
                raise julia_error("UndefVarError", "`Serialization` not defined in `Main`")
            return helpers[code]
        if code == "using Serialization":
            self.serialization = True
            return None
        if match := re.fullmatch(r"isdefined\(Main, :(\w+)\)", code):
            return match.group(1) in self.modules
        if match := re.fullmatch(r"import (\w+)", code):
            return self._import(match.group(1))
        if re.fullmatch(r"\w+!?(\.\w+!?)*", code):
            if code not in self.names:
                raise julia_error("UndefVarError", f"`{code}` not defined in `Main`")
            return self.names[code]
        raise AssertionError(f"the juliacall test double does not understand seval({code!r})")

    def _import(self, package: str) -> None:
        if package not in PACKAGES:
            raise julia_error(
                "ArgumentError",
                f"Package {package} not found in current path.\n"
                f'- Run `import Pkg; Pkg.add("{package}")` to install the {package} package.',
            )
        self.modules.add(package)
        self.types[package] = TYPES.get(package, [])
        for name, function in PACKAGES[package].items():
            self.names[f"{package}.{name}"] = _recorded(f"{package}.{name}", function)

    def include(self, path: str) -> None:
        calls.append(Call("include", (path,)))
        included.append(path)
        if not Path(path).is_absolute():
            raise AssertionError(f"the bridge should include absolute paths, got {path!r}")
        text = Path(path).read_text()
        match = re.search(r"^module (\w+)", text, re.MULTILINE)
        if match is None:
            raise AssertionError("the test double only includes files that define a module")
        module = match.group(1)
        self.modules.add(module)
        self.types[module] = TYPES.get(module, [])
        for function in re.findall(r"^\s*function (\w+!?)\(", text, re.MULTILINE):
            qualified = f"{module}.{function}"
            if qualified not in FILE_FUNCTIONS:
                raise julia_error(
                    "LoadError", f"the test double has no implementation of {qualified}"
                )
            self.names[qualified] = _recorded(qualified, FILE_FUNCTIONS[qualified])


Main = _Main()


def calls_to(name: str) -> list[Call]:
    """The recorded calls of the Julia function or helper ``name``."""
    return [call for call in calls if call.name == name]
