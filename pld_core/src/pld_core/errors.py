"""The exceptions pld raises on purpose, each carrying a message fit for one line of stderr."""

from __future__ import annotations


class PldError(Exception):
    """A failure the user can act on; the CLI prints it as one line and exits 1."""

    exit_code = 1


class ConfigError(PldError):
    """The configuration is missing, unreadable or names something that does not work.

    The message names the file, the key path and what was expected. The CLI exits with 2.
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None):
        self.path = path
        self.key = key
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class PluginConflictError(PldError):
    """Two plugins registered the same component name."""

    exit_code = 2


class PredictError(Exception):
    """Raised by a model to say it cannot predict for this input.

    The predict service answers with ``error_message`` and ``error_code`` instead of a
    generic server error.
    """

    def __init__(self, error_message: str, error_code: int = -1):
        super().__init__(error_message, error_code)
        self.error_message = error_message
        self.error_code = error_code

    def __str__(self) -> str:
        return f"{self.error_message} ({self.error_code})"


class InputError(PldError):
    """The client's samples or request are wrong: HTTP answers 400, streams and batches name it.

    Raised by predict services while turning records into model input; the text is the same on
    every predict path (``BadRequest: <message>``).
    """

    exit_code = 2

    def __str__(self) -> str:
        return f"BadRequest: {self.args[0] if self.args else ''}"


class NoModelError(LookupError):
    """There is no model to predict with yet (HTTP answers 503)."""


class LimitError(InputError):
    """A request is larger than the service's ``limits`` allow (HTTP answers 413)."""

    def __str__(self) -> str:
        return f"RequestEntityTooLarge: {self.args[0] if self.args else ''}"
