"""The ``compiled_inference`` config entry: whether to compile, how to check, whether to serve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pld_core import ConfigError

KEY = "compiled_inference"
RUNTIMES = ("onnx",)


@dataclass(frozen=True)
class Settings:
    """What the config's ``compiled_inference`` entry asks for (absent: the defaults).

    :ivar enabled: compile and verify each version when it is written.
    :ivar runtime: the runtime of the compiled form (``onnx``: skl2onnx and onnxruntime).
    :ivar rtol: the largest relative difference allowed between the compiled form's numbers
        (probabilities, regression values) and the Python model's; labels must be equal.
    :ivar rows: at most this many rows are compared (spread over the data set).
    :ivar serve: serve a version's verified compiled form when it has one.
    :ivar threads: onnxruntime's threads per prediction (1 suits one-row requests and
        several web workers on a machine).
    """

    enabled: bool = False
    runtime: str = "onnx"
    rtol: float = 1e-6
    rows: int = 1000
    serve: bool = True
    threads: int = 1

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        """The settings of ``config``'s ``compiled_inference`` entry.

        :raises ConfigError: the entry is not a dict of known keys with valid values.
        """
        given = config.get(KEY)
        if given is None:
            return cls()
        known = {"enabled", "runtime", "rtol", "rows", "serve", "threads"}
        if not isinstance(given, dict) or set(given) - known:
            raise _error(config, f"must be a dict with some of the keys {sorted(known)}", KEY)
        for name in ("enabled", "serve"):
            if not isinstance(given.get(name, True), bool):
                raise _error(config, f"must be True or False, not {given[name]!r}", name)
        runtime = given.get("runtime", "onnx")
        if runtime not in RUNTIMES:
            raise _error(
                config, f"must be one of {', '.join(RUNTIMES)}, not {runtime!r}", "runtime"
            )
        rtol = given.get("rtol", 1e-6)
        if isinstance(rtol, bool) or not isinstance(rtol, int | float) or not 0 <= rtol < 1:
            raise _error(config, f"must be a number from 0 to below 1, not {rtol!r}", "rtol")
        for name, default in (("rows", 1000), ("threads", 1)):
            value = given.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _error(config, f"must be a whole number of at least 1, not {value!r}", name)
        return cls(
            enabled=given.get("enabled", False),
            runtime=runtime,
            rtol=float(rtol),
            rows=given.get("rows", 1000),
            serve=given.get("serve", True),
            threads=given.get("threads", 1),
        )


def _error(config: Any, message: str, key: str) -> ConfigError:
    path = KEY if key == KEY else f"{KEY}.{key}"
    error = getattr(config, "error", None)
    return error(message, path) if callable(error) else ConfigError(f"{path}: {message}")
