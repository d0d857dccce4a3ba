"""Looking at and managing the model store: ``pld list``, ``pld admin activate|delete|sign``,
``pld upgrade`` and ``pld export``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import click

from pld_core import (
    VERSION,
    Config,
    ConfigError,
    ModelStore,
    command_config,
    common_options,
    encode_text,
    hookimpl,
    list_models,
    read_model,
    timer,
    write_model,
)

logger = logging.getLogger(__name__)
#: The metadata key that says what serves a version (``python``, ``onnx``).
SERVED_BY = "served_by"


@click.command("list")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print models and properties as JSON.")
def list_command(as_json: bool) -> None:
    """List the stored model versions; '*' marks the active one."""
    listing = list_models(command_config())
    if as_json:
        click.echo(encode_text(listing, indent=True))
        return
    click.echo(format_model_table(listing["models"], listing["properties"]))


def format_model_table(models: Sequence[dict[str, Any]], properties: dict[str, Any]) -> str:
    """A plain-text table of versions, newest last, with the active one starred.

    A ``served_by`` column (``python``, ``onnx``) appears once any version records what
    serves it (compiled inference).
    """
    active = str(properties.get("active-model", ""))
    served = any(info.get(SERVED_BY) for info in models)
    header: tuple[str, ...] = ("", "version", "created", "score_train", "score_test", "model")
    header += (SERVED_BY,) if served else ()
    rows = [header]
    for info in models:
        rows.append(
            (
                "*" if str(info.get("version")) == active else "",
                str(info.get("version", "")),
                str(info.get("created") or info.get("train_timestamp") or ""),
                _score(info.get("score_train")),
                _score(info.get("score_test")),
                str(info.get("model_class", "")).rsplit(".", 1)[-1],
            )
            + ((str(info.get(SERVED_BY) or "python"),) if served else ())
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if len(rows) == 1:
        lines.append("(no models stored)")
    props = ", ".join(f"{k}={v}" for k, v in sorted(properties.items()))
    lines.append(f"properties: {props}" if props else "properties: (none)")
    return "\n".join(lines)


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else ""


@click.group("admin")
@common_options
def admin_group() -> None:
    """Activate, delete or sign stored model versions."""


@admin_group.command("activate")
@common_options
@click.argument("version", type=VERSION)
def activate_command(version: int) -> None:
    """Make VERSION the active model."""
    command_config()["model_persister"].activate(version)
    click.echo(f"Activated model with version {version}.")


@admin_group.command("delete")
@common_options
@click.argument("version", type=VERSION)
def delete_command(version: int) -> None:
    """Delete VERSION and everything stored for it."""
    command_config()["model_persister"].delete(version)
    click.echo(f"Deleted model with version {version}.")


@admin_group.command("sign")
@common_options
@click.argument("version", type=VERSION)
@click.option(
    "--activate/--no-activate",
    "activate",
    default=None,
    help="Activate the signed copy. Default: when VERSION is the active one.",
)
def sign_command(version: int, activate: bool | None) -> None:
    """Sign VERSION with PLD_MODEL_SIGNING_KEY, stored again as a new version.

    For models written before signing was on. Nothing is unpickled, and whoever runs this
    vouches for the model: sign only versions your own pld fit wrote.
    """
    persister = command_config()["model_persister"]
    store = persister if isinstance(persister, ModelStore) else getattr(persister, "impl", None)
    if not isinstance(store, ModelStore):
        raise ConfigError(
            f"the persister {persister!r} does not store bytes through pld; pld cannot sign it"
        )
    was_active = store.list_properties().get("active-model") == str(version)
    signed = store.sign(version)
    click.echo(f"Signed model version {version} as version {signed}.")
    if activate or (activate is None and was_active):
        store.activate(signed)
        click.echo(f"Activated model with version {signed}.")


@click.command("upgrade")
@common_options
@click.option(
    "--from",
    "from_version",
    metavar="VERSION",
    help="Upgrade from this schema version instead of the one the store records.",
)
@click.option(
    "--to", "to_version", metavar="VERSION", help="Upgrade only up to this schema version."
)
def upgrade_command(from_version: str | None, to_version: str | None) -> None:
    """Migrate the model store's schema to this pld's version, step by step."""
    persister = command_config()["model_persister"]
    with timer(logger, "Upgrading the model store"):
        persister.upgrade(from_version=from_version, to_version=to_version)
    now = str(persister.list_properties().get("db-version", to_version or ""))
    click.echo(f"Upgraded the model store; its schema version is now {now}.")


def export(config: Config, version: int | None = None, activate: bool = True) -> tuple[Any, int]:
    """Copy ``version`` (the active one if ``None``) from ``model_persister`` to
    ``model_persister_export``; return the source version and the new version there."""
    config["model_persister_export"]  # fail before reading when the target is missing
    with timer(logger, "Reading model"):
        model = read_model(config, version)
    source = (getattr(model, "__metadata__", None) or {}).get("version", version)
    with timer(logger, "Writing model to model_persister_export"):
        new_version = write_model(config, model, key="model_persister_export")
    if activate:
        config["model_persister_export"].activate(new_version)
    return source, new_version


@click.command("export")
@common_options
@click.option(
    "--model-version",
    "model_version",
    type=VERSION,
    metavar="VERSION",
    help="The version to export. Default: the active one.",
)
# The spelling of pld 0.1, hidden: --model-version is the one name, as for pld test and predict.
@click.option("--version", "version_alias", type=VERSION, hidden=True)
@click.option("--no-activate", is_flag=True, help="Do not activate the exported copy.")
def export_command(model_version: int | None, version_alias: int | None, no_activate: bool) -> None:
    """Copy a model version from model_persister to model_persister_export."""
    if model_version is None:
        model_version = version_alias
    source, target = export(command_config(), model_version, activate=not no_activate)
    click.echo(f"Exported model version {source} as version {target}.")
    if not no_activate:
        click.echo(f"Activated model with version {target} in model_persister_export.")


@hookimpl
def pld_register_commands(register: Callable[..., None]) -> None:
    for command in (list_command, admin_group, upgrade_command, export_command):
        register(command)
