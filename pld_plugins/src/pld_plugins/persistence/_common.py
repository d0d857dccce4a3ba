"""What every pld persister shares: the stored byte format, digests, JSON metadata, messages.

A stored model is a gzip-compressed pickle, as in Palladium 1.2, so stores stay readable by
both. Each version's metadata also records a SHA-256 digest of those bytes; ``load_model``
checks it *before* unpickling, so a corrupt or tampered file is refused and never executed.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import os
import pickle
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from pld_core import PldError, annotate

#: The store layout version written to the ``db-version`` property: Palladium's 1.0 layout.
FORMAT_VERSION = "1.0"

ACTIVE = "active-model"
LAST_VERSION = "last-version"
DB_VERSION = "db-version"
DIGEST = "digest"
SIGNATURE = "signature"

#: With this environment variable set, models are written with an HMAC of their bytes and
#: only models carrying a valid one are read.
SIGNING_KEY_VARIABLE = "PLD_MODEL_SIGNING_KEY"

_GZIP_LEVEL = 6  # level 9 is several times slower for big models and barely smaller


class ModelIntegrityError(PldError):
    """The stored bytes of a model do not match the digest recorded when it was written."""


def as_version(value: Any) -> int:
    """Return ``value`` as a version number; anything that is no integer names no model."""
    if isinstance(value, bool):
        raise LookupError(f"No model with version {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise LookupError(f"No model with version {value!r}") from None


def no_such_version(version: Any, where: str) -> LookupError:
    return LookupError(f"No model with version {version} in {where}")


def no_active_model(where: str) -> LookupError:
    return LookupError(f"No active model in {where}")


def dump_model(model: Any) -> bytes:
    """Pickle and gzip ``model`` into the bytes a persister stores."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=_GZIP_LEVEL, mtime=0) as stream:
        pickle.dump(model, stream, protocol=pickle.DEFAULT_PROTOCOL)
    return buffer.getvalue()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _signing_key() -> bytes | None:
    key = os.environ.get(SIGNING_KEY_VARIABLE)
    return key.encode() if key else None


def _signature(key: bytes, data: bytes) -> str:
    return "hmac-sha256:" + hmac.new(key, data, hashlib.sha256).hexdigest()


def seal(data: bytes) -> dict[str, str]:
    """What a store records beside a model's bytes: their digest, and an HMAC when signing."""
    sealed = {DIGEST: digest_of(data)}
    key = _signing_key()
    if key is not None:
        sealed[SIGNATURE] = _signature(key, data)
    return sealed


def load_model(data: bytes, recorded: Mapping[str, Any], label: str) -> Any:
    """Check ``data`` against what was ``recorded`` when it was written, then unpickle it.

    The digest catches corruption; with a signing key set, the HMAC catches tampering and
    unsigned models are refused. Stores written by Palladium carry no digest: without a
    signing key their models load unchecked.
    """
    expected_digest = recorded.get(DIGEST)
    if expected_digest is not None and digest_of(data) != expected_digest:
        raise ModelIntegrityError(
            f"{label} is corrupt or was modified: its digest does not match the one recorded "
            "when it was written; refusing to load it"
        )
    key = _signing_key()
    if key is not None:
        signature = recorded.get(SIGNATURE)
        if signature is None:
            raise ModelIntegrityError(
                f"{label} is not signed and {SIGNING_KEY_VARIABLE} is set; refusing to load it"
            )
        if not hmac.compare_digest(str(signature), _signature(key, data)):
            raise ModelIntegrityError(
                f"{label} has a signature that does not match its bytes under this signing "
                "key; refusing to load it"
            )
    with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as stream:
        model = pickle.load(stream)  # noqa: S301 -- a model store is trusted, like the config
    if expected_digest is not None:
        annotate(model, {DIGEST: expected_digest})
    return model


def stamp(model: Any, version: int) -> dict[str, Any]:
    """Annotate ``version`` onto ``model`` before pickling; return its metadata dict."""
    metadata = annotate(model, {"version": version})
    metadata.pop(DIGEST, None)  # a digest from an earlier store describes other bytes
    metadata.pop(SIGNATURE, None)
    return metadata


@contextmanager
def restored_on_failure(model: Any) -> Iterator[None]:
    """Put ``model``'s metadata back as it was if the block fails: no phantom version."""
    previous = getattr(model, "__metadata__", None)
    previous = dict(previous) if previous is not None else None
    try:
        yield
    except BaseException:
        if previous is None:
            with suppress(AttributeError):
                del model.__metadata__
        else:
            model.__metadata__ = previous
        raise


def _json_default(value: Any) -> Any:
    """Make numpy scalars and arrays, datetimes and sets JSON-able; anything else as ``str``."""
    for method in ("isoformat", "tolist", "item"):
        convert = getattr(value, method, None)
        if callable(convert):
            try:
                return convert()
            except (TypeError, ValueError):
                continue
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return str(value)


def to_json(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, default=_json_default, indent=indent)


def jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON: plain lists, dicts, numbers and strings."""
    return json.loads(to_json(value))


def parse_version(value: str | None) -> tuple[int, ...]:
    """``'1.2.4'`` → ``(1, 2, 4)``; ``None`` or text without digits sorts before everything."""
    return tuple(int(part) for part in re.findall(r"\d+", value or ""))


def needs_step(step: str, from_version: str | None, to_version: str | None) -> bool:
    """Whether an upgrade from ``from_version`` to ``to_version`` passes schema ``step``."""
    target = parse_version(to_version or FORMAT_VERSION)
    return parse_version(from_version) < parse_version(step) <= target
