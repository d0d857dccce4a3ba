"""Rollout: promote a candidate only when it beats the version in service, and roll back.

``pld fit --activate-if-better`` scores the candidate and the active version on the same test
rows; the decision and both scores go into the candidate's metadata (``rollout``), so ``pld
list`` shows why a version was or was not activated. Every version a fit writes records the
version active when it was written (``previous_active``): that chain is the store's activation
history, kept in the metadata every persister already stores, so ``pld rollback`` works with
any persister and is one ``activate`` call — as atomic as the store's own activation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pld_core import Config, PldError, Task, read_model, scorers, timer

logger = logging.getLogger(__name__)

#: Metadata key of the version that was active when a version was written.
PREVIOUS_ACTIVE = "previous_active"
#: Metadata key of the ``--activate-if-better`` decision and scores.
ROLLOUT = "rollout"


def active_version(persister: Any) -> int | None:
    """The store's active version, or ``None`` when none is active."""
    active = persister.list_properties().get("active-model")
    return int(active) if active not in (None, "") else None


def compare_with_active(
    config: Config, candidate_scores: dict[str, float], X: Any, y: Any, margin: float
) -> dict[str, Any]:
    """Score the active version on ``X, y``; decide whether the candidate replaces it.

    The first scorer decides (greater is better, as in scikit-learn); the candidate must beat
    the active score by more than ``margin``. A store without an active version, or whose
    active version cannot be read, takes the candidate.
    """
    name, candidate = next(iter(candidate_scores.items()))
    record: dict[str, Any] = {
        "scorer": name,
        "candidate_score": candidate,
        "active_version": None,
        "active_score": None,
        "margin": margin,
    }
    try:
        with timer(logger, "Scoring the active version"):
            active = read_model(config, None)
            record["active_version"] = (getattr(active, "__metadata__", None) or {}).get("version")
            score = scorers(config, active)[name]
            record["active_score"] = float(score(active, X, y))
    except LookupError:
        record.update(decision="activate", reason="no version is active")
        return record
    except Exception as exc:  # a broken active version is worse than any candidate
        record.update(
            decision="activate",
            reason=f"the active version could not be scored: {type(exc).__name__}: {exc}",
        )
        return record
    better = candidate > record["active_score"] + margin
    record["decision"] = "activate" if better else "keep"
    record["reason"] = (
        f"{name} {candidate:.6g} {'>' if better else '<='} "
        f"{record['active_score']:.6g} (version {record['active_version']}) + margin {margin:g}"
    )
    return record


@dataclass
class RollbackResult:
    """Which version was active and which one is now."""

    rolled_back_from: int
    active: int

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary, e.g. for a ``/rollback`` job record."""
        return {"rolled_back_from": self.rolled_back_from, "active": self.active}


def rollback(config: Config) -> RollbackResult:
    """Activate the version that was active before the active one (its ``previous_active``)."""
    persister = config["model_persister"]
    current = active_version(persister)
    if current is None:
        raise PldError(f"no version is active in {persister!r}: nothing to roll back")
    entries = {int(m["version"]): m for m in persister.list_models() if "version" in m}
    previous = (entries.get(current) or {}).get(PREVIOUS_ACTIVE)
    if previous is None:
        raise PldError(f"version {current} records no previously active version to return to")
    try:
        persister.activate(int(previous))
    except LookupError:
        raise PldError(
            f"version {previous}, active before {current}, is no longer in the store"
        ) from None
    logger.debug("Rolled back from version %s to version %s", current, previous)
    return RollbackResult(rolled_back_from=current, active=int(previous))


def rollback_report(result: RollbackResult, options: dict[str, Any], echo: Any) -> None:
    """What ``pld rollback`` prints."""
    echo(f"Rolled back from version {result.rolled_back_from}; version {result.active} is active.")


#: ``pld rollback`` and the ``rollback`` view a ``url-rule`` mounts (``POST /rollback``).
ROLLBACK_TASK = Task(
    name="rollback",
    run=rollback,
    help="Activate again the version that was active before the active one.",
    options=(),
    report=rollback_report,
    http_decorators="server_rollback_decorators",
)


def register_rollout_tasks(register: Callable[..., None]) -> None:
    """Register the ``rollback`` task (called by the training plugin's hook)."""
    register(ROLLBACK_TASK)
