"""Compiled inference, opt-in and verified: a version may carry a compiled form that serves it.

With ``'compiled_inference': {'enabled': True}``, writing a version (``pld fit``, ``pld
grid-search --persist-best``, ``pld export``) also converts the model to ONNX and runs both on
the test set (``dataset_loader_test``; else a sample of the training rows). Only when the
labels are equal and every probability or value is within ``rtol`` is the ONNX form stored
with the version — as the attachment ``model.onnx``, so the digest and the signature cover it
— and recorded in its metadata (``compiled``: verified, rows, largest relative difference;
``served_by: onnx``). Otherwise ``compiled`` says why not, and the Python model serves.

When a version with a verified ONNX form is served, ``pld_serve_model`` answers with an
:class:`~pld_plugins.compiled.onnx.OnnxModel`: one onnxruntime session built when the model
is loaded, one ``run`` per prediction. ``/alive`` says ``served_by``, ``pld list`` too.
``pld predict`` reads its model without unpickling it (``pld_serve_stored``): the record
holds the model's columns and classes, so the ONNX form serves a batch without scikit-learn;
the Python model is unpickled only if a batch needs it (a fallback, below).

This module is what every ``pld`` command loads; numpy, skl2onnx and onnxruntime are imported
by its submodules only when a version is compiled or served.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Generator
from typing import Any

from pld_core import ATTACHMENT_PREFIX, ModelPersister, hookimpl, load_data
from pld_plugins.compiled.settings import Settings

__all__ = [
    "ATTACHMENT",
    "COMPILED",
    "SERVED_BY",
    "pld_serve_model",
    "pld_serve_stored",
    "pld_write_model",
]

logger = logging.getLogger(__name__)

#: The metadata key of the version's compiled-inference record.
COMPILED = "compiled"
#: The metadata key ``pld list`` shows: ``onnx`` or ``python``.
SERVED_BY = "served_by"
#: The attachment holding the ONNX bytes.
ATTACHMENT = ATTACHMENT_PREFIX + "model.onnx"
#: What the record says of the model (trained column names, a classifier's classes), so its
#: ONNX form can serve before the Python model is unpickled.
DESCRIBED = frozenset({"columns", "classes"})


@hookimpl(wrapper=True)
def pld_write_model(
    persister: ModelPersister, model: Any, config: Any
) -> Generator[None, int | None, int | None]:
    """Compile and verify the model before it is written, when the config asks for it."""
    if config is not None and Settings.from_config(config).enabled:
        record(model, *compiled_form(config, model))
    return (yield)


@hookimpl
def pld_serve_model(model: Any, config: Any) -> Any:
    """The version's verified ONNX form, loaded; ``None`` (the model itself) without one."""
    return _onnx_form(model, config, from_record=False)


@hookimpl
def pld_serve_stored(model: Any, config: Any) -> Any:
    """The verified ONNX form of a version not unpickled yet (``pld predict``), when its record
    describes the model (columns, classes); the Python model unpickles only for a fallback."""
    return _onnx_form(model, config, from_record=True)


def _onnx_form(model: Any, config: Any, from_record: bool) -> Any:
    metadata = getattr(model, "__metadata__", None) or {}
    compiled = metadata.get(COMPILED)
    if not isinstance(compiled, dict) or compiled.get("verified") is not True:
        return None
    settings = Settings.from_config(config)
    if not settings.serve:
        return None
    if from_record and not DESCRIBED.issubset(compiled):
        return None  # compiled before pld recorded them: serve it once unpickled
    version = metadata.get("version")
    text = metadata.get(ATTACHMENT)
    if not isinstance(text, str):
        logger.warning("model version %s: its ONNX form is missing; the model serves", version)
        return None
    try:
        from pld_plugins.compiled.onnx import OnnxModel

        served = OnnxModel.load(
            model,
            base64.b64decode(text),
            compiled["outputs"],
            settings.threads,
            compiled if from_record else None,
        )
    except ImportError as exc:
        logger.warning(
            "model version %s has a verified ONNX form, but %s is not installed "
            "(pip install 'pld-plugins[onnx]'); the Python model serves",
            version,
            exc.name,
        )
        return None
    logger.info("model version %s: serving its verified ONNX form", version)
    return served


def compiled_form(config: Any, model: Any) -> tuple[dict[str, Any], bytes | None]:
    """The ``compiled`` record for ``model`` and its verified ONNX bytes (``None``: not
    verified; the record's ``reason`` says why)."""
    from pld_plugins.compiled import onnx
    from pld_plugins.compiled.verify import verification_rows

    settings = Settings.from_config(config)
    key = "dataset_loader_test" if "dataset_loader_test" in config else "dataset_loader_train"
    facts: dict[str, Any] = {"runtime": settings.runtime, "rtol": settings.rtol, "rows_from": key}
    try:
        X, _ = load_data(config, key)
        rows, features = verification_rows(X, settings.rows)
    except Exception as exc:
        reason = f"no rows to verify it on from {key}: {exc}"
        return {**facts, "verified": False, "reason": reason}, None
    facts["rows"] = len(features)
    try:
        found, data = onnx.compile_model(model, rows, features, settings)
    except onnx.CompileError as exc:
        return {**facts, "verified": False, "reason": str(exc)}, None
    return {**facts, **found}, data


def record(model: Any, compiled: dict[str, Any], data: bytes | None) -> None:
    """Put the record (and the ONNX bytes as the attachment) into the model's metadata;
    an attachment from an earlier write is dropped."""
    metadata = dict(getattr(model, "__metadata__", None) or {})
    metadata.pop(ATTACHMENT, None)
    metadata[COMPILED] = compiled
    metadata[SERVED_BY] = compiled["runtime"] if data is not None else "python"
    if data is not None:
        metadata[ATTACHMENT] = base64.b64encode(data).decode("ascii")
        logger.info(
            "Compiled inference: the %s form answers as the model on %s rows (largest "
            "relative difference %.3g); it will serve this version",
            compiled["runtime"],
            compiled["rows"],
            compiled["max_rel_diff"],
        )
    else:
        logger.warning(
            "Compiled inference: the Python model will serve this version: %s", compiled["reason"]
        )
    model.__metadata__ = metadata
