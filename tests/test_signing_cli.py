"""Bringing an unsigned store under signing from the command line: ``pld admin sign``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
KEY = "PLD_MODEL_SIGNING_KEY"


def pld(config: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PALLADIUM_CONFIG", KEY)}
    env["PLD_CONFIG"] = str(config)
    if key is not None:
        env[KEY] = key
    return subprocess.run(
        [str(BIN / "pld"), *args],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line[:4].isdigit()]  # no log


@pytest.mark.slow
def test_an_unsigned_store_comes_under_signing_with_pld_admin_sign(fitted_iris):
    refused = pld(fitted_iris, "test", key="s3cret")
    assert refused.returncode == 1
    [line] = error_lines(refused)
    assert line.startswith("Error: model version 1 in ") and line.endswith(
        f"is not signed and {KEY} is set; refusing to load it "
        "(re-fit it, or re-sign it with `pld admin sign`)"
    ), refused.stderr

    signed = pld(fitted_iris, "admin", "sign", "1", key="s3cret")
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.splitlines() == [
        "Signed model version 1 as version 2.",
        "Activated model with version 2.",
    ]
    tested = pld(fitted_iris, "test", key="s3cret")
    assert tested.returncode == 0, tested.stderr
    listed = pld(fitted_iris, "list", "--json", key="s3cret")
    models = {m["version"]: m for m in json.loads(listed.stdout)["models"]}
    assert models[2]["signed_from"] == 1 and models[2]["signature"].startswith("pld-hmac-")
    assert "signature" not in models[1]
    # Under another key the copy is refused again.
    assert pld(fitted_iris, "test", key="another").returncode == 1


def test_pld_admin_sign_needs_a_key_and_refuses_modified_bytes(fitted_iris):
    without = pld(fitted_iris, "admin", "sign", "1")
    assert without.returncode == 2
    assert error_lines(without) == [f"Error: {KEY} is not set: there is no key to sign with"]
    path = fitted_iris.parent / "model-1.pkl.gz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    tampered = pld(fitted_iris, "admin", "sign", "1", key="s3cret")
    assert tampered.returncode == 1
    [line] = error_lines(tampered)
    assert "is corrupt or was modified" in line and "not signing it" in line
    assert pld(fitted_iris, "admin", "sign", "7", key="s3cret").returncode == 1  # no version 7
