"""Model bytes, digests and signatures: what pld checks before it unpickles a stored model.

A stored model is a gzip-compressed pickle, as in Palladium 1.2. pld makes those bytes, and
records beside them a SHA-256 digest and — with ``PLD_MODEL_SIGNING_KEY`` set — an HMAC over
the store's identity, the version and the digest. Reading checks both **before** unpickling,
so a corrupt, tampered, unsigned, replayed (another version's bytes) or moved (another
store's bytes) model is refused and never executed. Persisters that store bytes
(:class:`~pld_core.ModelStore`) get this without doing anything for it. A second HMAC,
``metadata_signature``, covers the metadata stored beside the bytes, so that a signed version
can be served from its metadata and attachments before it is unpickled (``pld predict``).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import io
import json
import os
import pickle
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from pld_core.deferred import DeferredModel, deferring
from pld_core.errors import ConfigError, PldError

__all__ = [
    "ATTACHMENT_PREFIX",
    "ATTACHMENTS",
    "DIGEST",
    "SIGNATURE",
    "SIGNING_KEY_VARIABLE",
    "ModelIntegrityError",
    "StoredModel",
    "digest_of",
    "dump_model",
    "open_model",
    "prepare_model",
    "require_verified",
    "signing_key",
]

#: With this environment variable set, models are written with an HMAC and only models
#: carrying a valid one are read. Set but empty is a configuration error, never "off".
SIGNING_KEY_VARIABLE = "PLD_MODEL_SIGNING_KEY"
DIGEST = "digest"
SIGNATURE = "signature"
#: An HMAC over everything else stored beside the bytes: lets a signed version be served
#: from its metadata and attachments before it is unpickled (``deferred_unpickling``).
METADATA_SIGNATURE = "metadata_signature"
#: Metadata keys ``attachments/<name>`` hold base64 text (Palladium 1.2.3's model
#: attachments): kept out of the pickle, handed to the store beside it, put back on reading.
ATTACHMENT_PREFIX = "attachments/"
#: The attachment keys a version has (Palladium's name), and their SHA-256 digests.
ATTACHMENTS = "__attachments__"
ATTACHMENT_DIGESTS = "attachment_digests"

#: Signatures over store identity, version and digest.
_SIGNATURE_PREFIX = "pld-hmac-sha256:"
#: Signatures of pld before 0.1.x covered the bytes only: a blob could move between versions.
_BYTES_ONLY_PREFIX = "hmac-sha256:"
_GZIP_LEVEL = 6  # level 9 is several times slower for big models and barely smaller


class ModelIntegrityError(PldError):
    """A stored model fails its digest or signature check; it was not unpickled."""


@dataclass(frozen=True)
class StoredModel:
    """One version as a byte store keeps it.

    :ivar version: the version these bytes are stored under.
    :ivar data: the model's bytes, exactly as pld handed them over.
    :ivar metadata: the metadata stored with them (a JSON object), including what pld
        recorded for checking them (``digest``, ``signature``). Attachments
        (``attachments/<name>``: base64 text) come in it too; a store may keep them apart
        (``__attachments__`` lists them) and must hand them back in it when reading.
    """

    version: int
    data: bytes
    metadata: Mapping[str, Any] = field(default_factory=dict)


def signing_key() -> bytes | None:
    """The signing key from the environment, or ``None`` when unset.

    :raises ConfigError: the variable is set but empty (or blank): a typo must not turn
        signing off.
    """
    value = os.environ.get(SIGNING_KEY_VARIABLE)
    if value is None:
        return None
    if not value.strip():
        raise ConfigError(
            f"{SIGNING_KEY_VARIABLE} is set but empty: set it to a secret to sign models, "
            "or unset it to store them unsigned"
        )
    return value.encode()


def require_verified(persister: Any) -> None:
    """Refuse ``persister`` while signing is on, unless pld checks its models itself.

    A persister that unpickles by itself (Palladium's interface) would run a planted pickle
    before pld could look at it; only a byte store can be protected by a signature.

    :raises ConfigError: ``PLD_MODEL_SIGNING_KEY`` is set (or empty) and ``persister`` is not
        checked by pld.
    """
    if signing_key() is None:
        return
    verified = getattr(persister, "verified_by_pld", None)
    if not (callable(verified) and verified()):
        raise ConfigError(
            f"{SIGNING_KEY_VARIABLE} is set, but the persister {persister!r} unpickles models "
            "itself, so pld cannot check them first; use a persister that stores bytes "
            "(pld_core.ModelStore, docs/writing-a-plugin.md) or unset the key"
        )


def dump_model(model: Any) -> bytes:
    """Pickle and gzip ``model`` into the bytes a store keeps (Palladium's format)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=_GZIP_LEVEL, mtime=0) as stream:
        pickle.dump(model, stream, protocol=pickle.DEFAULT_PROTOCOL)
    return buffer.getvalue()


def digest_of(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _signature(key: bytes, store: str, version: int, digest: str) -> str:
    message = "\0".join(("pld-model", store, str(version), digest)).encode()
    return _SIGNATURE_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def _metadata_signature(key: bytes, store: str, version: int, metadata: Mapping[str, Any]) -> str:
    """The HMAC over ``metadata`` (without its signatures) as stored for ``version``; ``""``
    when it has no canonical JSON form (NaN): such a version is unpickled before it serves."""
    signed = {k: v for k, v in metadata.items() if k not in (SIGNATURE, METADATA_SIGNATURE)}
    try:
        text = json.dumps(signed, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return ""
    message = "\0".join(("pld-metadata", store, str(version), text)).encode()
    return _SIGNATURE_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def _with_metadata_signature(
    metadata: dict[str, Any], key: bytes | None, store: str, version: int
) -> dict[str, Any]:
    """``metadata`` as a store keeps it, signed as a whole when there is a key."""
    metadata = dict(metadata)
    if key is not None:
        signature = _metadata_signature(key, store, version, metadata)
        if signature:
            metadata[METADATA_SIGNATURE] = signature
    return metadata


def _metadata_is_signed(key: bytes, stored: StoredModel, store: str) -> bool:
    """Whether the stored metadata is exactly what was signed with the model (stores that
    change it, and versions signed before pld signed metadata, are unpickled first)."""
    given = stored.metadata.get(METADATA_SIGNATURE)
    expected = _metadata_signature(key, store, stored.version, stored.metadata)
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(given, expected)


def seal(data: bytes, version: int, store: str) -> dict[str, str]:
    """What a store records beside a model's bytes: their digest, and an HMAC when signing."""
    digest = digest_of(data)
    sealed = {DIGEST: digest}
    key = signing_key()
    if key is not None:
        sealed[SIGNATURE] = _signature(key, store, version, digest)
    return sealed


def prepare_model(model: Any, store: str) -> Callable[[int], StoredModel]:
    """``make(version)``: stamp ``version`` onto ``model``, pickle it, seal it for ``store``.

    A byte store calls it once it has chosen the version (again on a retry). The model's
    ``__metadata__`` then holds the version, digest and signature, as after any write.
    """
    signing_key()  # an empty key is refused before anything is written

    def make(version: int) -> StoredModel:
        metadata = dict(getattr(model, "__metadata__", None) or {})
        metadata.pop(DIGEST, None)  # a digest from an earlier store describes other bytes
        metadata.pop(SIGNATURE, None)
        metadata.pop(METADATA_SIGNATURE, None)
        attachments = _take_attachments(metadata)  # kept out of the pickle
        metadata["version"] = version
        model.__metadata__ = metadata
        data = dump_model(model)
        sealed = seal(data, version, store)
        model.__metadata__ = {**metadata, **sealed, **attachments}
        stored = _with_metadata_signature(
            _jsonable(model.__metadata__), signing_key(), store, version
        )
        return StoredModel(version, data, stored)

    return make


def open_model(
    stored: StoredModel, store: str, version: int | None = None, where: str | None = None
) -> Any:
    """Check ``stored`` (read for ``version``, ``None`` for the active one), then unpickle it.

    ``store`` is the identity the signature covers, ``where`` names the store in messages.

    The digest catches corruption. With a signing key, unsigned models are refused, and the
    HMAC catches tampering, another version's bytes and another store's. Stores written by
    Palladium carry no digest: without a key their models load unchecked.

    Inside :func:`~pld_core.deferred_unpickling` the checked version comes back as a
    :class:`~pld_core.DeferredModel` that unpickles when first needed — with a signing key
    only if its stored metadata (what serves it then) carries a valid ``metadata_signature``
    too; otherwise it is unpickled here, as outside the block.

    :raises ModelIntegrityError: any check fails; nothing was unpickled.
    """
    where = where or store
    label = f"model version {stored.version} in {where}"
    if version is not None and int(version) != stored.version:
        raise ModelIntegrityError(
            f"model version {version} in {where}: the store answered version {stored.version}; "
            "refusing to load it"
        )
    data = bytes(stored.data)
    actual = digest_of(data)
    recorded = stored.metadata.get(DIGEST)
    if recorded is not None and actual != recorded:
        raise ModelIntegrityError(
            f"{label} is corrupt or was modified: its digest does not match the one recorded "
            "when it was written; refusing to load it"
        )
    key = signing_key()
    if key is not None:
        _check_signature(key, stored, store, actual, label)
    if deferring() and (key is None or _metadata_is_signed(key, stored, store)):
        _checked_attachments(stored.metadata, stored.metadata, label)  # raises on a changed one
        metadata = {**stored.metadata, "version": stored.version}
        return DeferredModel(metadata, lambda: _unpickle(data, stored, label))
    return _unpickle(data, stored, label)


def _unpickle(data: bytes, stored: StoredModel, label: str) -> Any:
    """The model of the checked bytes ``data``, its metadata completed from ``stored``."""
    with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as stream:
        model = pickle.load(stream)  # noqa: S301 -- checked first; see docs/storage.md
    with suppress(AttributeError, TypeError):
        current = dict(getattr(model, "__metadata__", None) or {})
        current["version"] = stored.version
        if stored.metadata.get(DIGEST) is not None:
            current[DIGEST] = stored.metadata[DIGEST]
        if stored.metadata.get(SIGNATURE) is not None:
            current[SIGNATURE] = stored.metadata[SIGNATURE]
        current.update(_checked_attachments(stored.metadata, current, label))
        model.__metadata__ = current
    return model


def _take_attachments(metadata: dict[str, Any]) -> dict[str, str]:
    """Remove the ``attachments/<name>`` entries from ``metadata`` and return them; record
    their keys (``__attachments__``) and digests, which the pickle, and so the signature,
    covers."""
    keys = sorted(key for key in metadata if str(key).startswith(ATTACHMENT_PREFIX))
    if not keys:
        return {}
    attachments: dict[str, str] = {}
    digests: dict[str, str] = {}
    for key in keys:
        value = metadata.pop(key)
        text = value.decode("ascii") if isinstance(value, bytes) else value
        name = key[len(ATTACHMENT_PREFIX) :]
        if not isinstance(text, str) or not name or "/" in name or "\\" in name:
            raise PldError(
                f"metadata {key!r}: an attachment needs a file name after 'attachments/' and "
                "base64 text as its value"
            )
        try:
            digests[key] = digest_of(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise PldError(f"metadata {key!r}: an attachment's value must be base64 text") from None
        attachments[key] = text
    metadata[ATTACHMENTS] = keys
    metadata[ATTACHMENT_DIGESTS] = digests
    return attachments


def _checked_attachments(
    stored: Mapping[str, Any], current: Mapping[str, Any], label: str
) -> dict[str, Any]:
    """The attachments the store handed back, each checked against the digest the pickle
    recorded (stores written by Palladium recorded none)."""
    found = {k: v for k, v in stored.items() if str(k).startswith(ATTACHMENT_PREFIX)}
    digests = current.get(ATTACHMENT_DIGESTS) or {}
    for key, value in found.items():
        expected = digests.get(key) if isinstance(digests, dict) else None
        if expected is None:
            continue
        try:
            actual = digest_of(base64.b64decode(value))
        except (binascii.Error, ValueError, TypeError):
            actual = None
        if actual != expected:
            raise ModelIntegrityError(
                f"{label}: its attachment {key!r} does not match the digest recorded when it "
                "was written; refusing to load it"
            )
    return found


def _check_signature(key: bytes, stored: StoredModel, store: str, digest: str, label: str) -> None:
    signature = stored.metadata.get(SIGNATURE)
    resign = "re-fit it, or re-sign it with `pld admin sign`"
    if signature is None:
        raise ModelIntegrityError(
            f"{label} is not signed and {SIGNING_KEY_VARIABLE} is set; refusing to load it "
            f"({resign})"
        )
    if str(signature).startswith(_BYTES_ONLY_PREFIX):
        raise ModelIntegrityError(
            f"{label} carries an old signature that does not cover its version and store; "
            f"refusing to load it ({resign})"
        )
    expected = _signature(key, store, stored.version, digest)
    if not hmac.compare_digest(str(signature), expected):
        raise ModelIntegrityError(
            f"{label} has a signature that does not match its bytes, version and store under "
            "this signing key; refusing to load it"
        )


def reseal(stored: StoredModel, store: str) -> Callable[[int], StoredModel]:
    """``make(version)``: ``stored``'s very bytes, signed under the current key as ``version``.

    For ``pld admin sign``: models written without a key (or under the first scheme) come
    under signing without being unpickled; whoever runs it vouches for them. Bytes that no
    longer match the digest recorded when they were written are refused.

    :raises ConfigError: no signing key is set (or it is empty).
    :raises ModelIntegrityError: the bytes do not match their recorded digest.
    """
    key = signing_key()
    if key is None:
        raise ConfigError(f"{SIGNING_KEY_VARIABLE} is not set: there is no key to sign with")
    data = bytes(stored.data)
    digest = digest_of(data)
    recorded = stored.metadata.get(DIGEST)
    if recorded is not None and recorded != digest:
        raise ModelIntegrityError(
            f"model version {stored.version} in {store} is corrupt or was modified: its "
            "digest does not match the one recorded when it was written; not signing it"
        )

    def make(version: int) -> StoredModel:
        skipped = (DIGEST, SIGNATURE, METADATA_SIGNATURE)
        metadata = {k: v for k, v in stored.metadata.items() if k not in skipped}
        metadata.update(version=version, signed_from=stored.version, digest=digest)
        metadata[SIGNATURE] = _signature(key, store, version, digest)
        return StoredModel(version, data, _with_metadata_signature(metadata, key, store, version))

    return make


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


def json_default(value: Any) -> Any:
    """numpy scalars and arrays, datetimes and sets as JSON; anything else as ``str``.

    The ``default`` for :func:`json.dumps` of model metadata, here and in stores that keep it.
    """
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


def _jsonable(value: Any) -> dict[str, Any]:
    """``value`` as it reads back from JSON: what a store can keep as a JSON object."""
    result: dict[str, Any] = json.loads(json.dumps(value, default=json_default))
    return result
