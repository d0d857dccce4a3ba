"""A server whose active model cannot load starts anyway, answers 503 saying why, and serves
as soon as a good version is active — under real gunicorn (2 workers) and ``pld serve``.

The store holds a good version 1 and an active version 2 that is broken one of three ways:
its bytes flipped (corrupt), its file gone (missing), or bytes that pass the digest but are
no pickle (unreadable).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from werkzeug.test import Client

from pld_core import create_app, load_config
from pld_core.integrity import digest_of
from pld_core.testing import free_port, http_json, running_server
from pld_plugins.persistence.file import File

BIN = Path(sys.executable).parent
QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
KEY = "PLD_MODEL_SIGNING_KEY"
PLAIN = """
    'model_persister': {'!': 'file', 'path': here + '/model-{version}'},
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/activate', 'view_func': 'activate', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/update-model-cache', 'view_func': 'update-model-cache',
         'methods': ['POST']},
    ],"""
REFRESHING = """
    'model_persister': {
        '!': 'cached-update', 'impl': {'!': 'file', 'path': here + '/model-{version}'},
        'update_cache_rrule': {'freq': 'SECONDLY', 'interval': 1},
    },"""
#: What each kind of breakage says in the 503 answer.
REASONS = {
    "corrupt": "model version 2 .* is corrupt or was modified",
    "missing": "Model version 2 is listed in .* but its file .* is missing",
    "unreadable": "UnpicklingError",
}


def _break(folder: Path, how: str) -> None:
    """Store a broken version 2 beside the good version 1 and make it active."""
    store = File(str(folder / "model-{version}"))
    assert store.write(store.read(1)) == 2
    path = folder / "model-2.pkl.gz"
    if how == "corrupt":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif how == "missing":
        path.unlink()
    else:  # unreadable: bytes that match the recorded digest but are no pickle
        data = gzip.compress(b"this is no pickle")
        path.write_bytes(data)
        metadata_path = folder / "model-metadata.json"
        metadata = json.loads(metadata_path.read_text())
        for entry in metadata["models"]:
            if entry["version"] == 2:
                entry["digest"] = digest_of(data)
        metadata_path.write_text(json.dumps(metadata))
    store.activate(2)


@pytest.fixture
def broken_store(fitted_iris: Path, write_iris_config) -> Callable[[str, str], Path]:
    """``broken_store(how, persister_entry)``: the config of a store broken ``how``."""

    def make(how: str, entry: str) -> Path:
        config = write_iris_config(entry)  # the later model_persister entry wins
        _break(config.parent, how)
        return config

    return make


def _env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PALLADIUM_CONFIG", KEY)}
    env["PLD_CONFIG"] = str(config)
    return env


def _gunicorn(port: int) -> list[str]:
    return [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}"] + [
        "pld_core.wsgi:app"
    ]


def _assert_degraded(base: str, reason: str) -> None:
    for _ in range(6):  # several requests: with gunicorn, both workers answer
        status, body = http_json(f"{base}/predict?{QUERY}")
        assert status == 503, body
        message = body["metadata"]["error_message"]
        assert message.startswith("no model is available to predict with: "), message
        assert _matches(reason, message), message
        status, alive = http_json(f"{base}/alive")
        assert status == 503 and alive["model_persister"] == "N/A"
        assert _matches(reason, alive["model_error"]), alive


def _matches(pattern: str, text: str) -> bool:
    import re

    return re.search(pattern, text) is not None


def _wait_until_serving(base: str, timeout: float = 60) -> float:
    """Seconds until 8 predictions in a row answer 200 (so every worker serves)."""
    start = time.monotonic()
    good = 0
    while good < 8:
        status, body = http_json(f"{base}/predict?{QUERY}")
        good = good + 1 if status == 200 else 0
        if status == 200:
            assert body["result"] == "Iris-versicolor"
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not serving after {timeout} s: {status} {body}")
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.parametrize("how", sorted(REASONS))
@pytest.mark.slow
def test_gunicorn_starts_degraded_and_serves_after_the_next_refresh(broken_store, tmp_path, how):
    config = broken_store(how, REFRESHING)
    port = free_port()
    with running_server(_gunicorn(port), port, cwd=tmp_path, env=_env(config)) as base:
        _assert_degraded(base, REASONS[how])
        status, alive = http_json(f"{base}/alive")
        cache = alive["process_metadata"]["model_cache"]["model_persister"]
        assert _matches(REASONS[how], cache["last_error"])
        File(str(config.parent / "model-{version}")).activate(1)  # as `pld admin activate 1`
        waited = _wait_until_serving(base)
        status, alive = http_json(f"{base}/alive")
        assert status == 200 and "model_error" not in alive
        assert alive["model_persister"]["metadata"]["version"] == 1
    print(f"{how}: served {waited:.2f} s after activation (refresh every 1 s)")


def test_gunicorn_with_a_plain_persister_starts_degraded(broken_store, tmp_path):
    config = broken_store("corrupt", PLAIN)
    port = free_port()
    with running_server(_gunicorn(port), port, cwd=tmp_path, env=_env(config)) as base:
        _assert_degraded(base, REASONS["corrupt"])


@pytest.mark.parametrize("recover", ["activate", "update-model-cache"])
def test_pld_serve_starts_degraded_and_serves_once_activated(broken_store, tmp_path, recover):
    config = broken_store("corrupt", PLAIN)
    port = free_port()
    command = [str(BIN / "pld"), "serve", "--port", str(port)]
    with running_server(command, port, cwd=tmp_path, env=_env(config)) as base:
        _assert_degraded(base, REASONS["corrupt"])
        if recover == "activate":
            status, body = http_json(f"{base}/activate", form=b"model_version=1")
            assert status == 200 and body["properties"]["active-model"] == "1"
        else:
            File(str(config.parent / "model-{version}")).activate(1)
            status, body = http_json(f"{base}/update-model-cache", form=b"")
            assert status == 200 and "job_id" in body
        _wait_until_serving(base, timeout=30)


@pytest.mark.parametrize("how", sorted(REASONS))
@pytest.mark.parametrize("entry", [PLAIN, REFRESHING], ids=["plain", "cached-update"])
def test_the_app_starts_without_its_model_and_says_why(broken_store, how, entry):
    client = Client(create_app(load_config(str(broken_store(how, entry)))))
    predict = client.get(f"/predict?{QUERY}")
    assert predict.status_code == 503
    assert _matches(REASONS[how], predict.json["metadata"]["error_message"])
    alive = client.get("/alive")
    assert alive.status_code == 503 and _matches(REASONS[how], alive.json["model_error"])


def test_activating_a_broken_version_keeps_the_good_one_serving(fitted_iris, write_iris_config):
    config = write_iris_config(PLAIN)
    client = Client(create_app(load_config(str(config))))
    assert client.get(f"/predict?{QUERY}").status_code == 200
    _break(config.parent, "corrupt")  # version 2 broken and active in the store
    answer = client.post("/activate", data={"model_version": "2"})
    assert answer.status_code == 200 and answer.json["properties"]["active-model"] == "2"
    assert client.get(f"/predict?{QUERY}").status_code == 200  # version 1 still serves
    assert client.get("/alive").json["model_persister"]["metadata"]["version"] == 1


@pytest.mark.parametrize("command", [["test"], ["serve", "--port", "0"]])
def test_an_empty_signing_key_is_a_one_line_config_error(fitted_iris, tmp_path, command):
    env = {**_env(fitted_iris), KEY: ""}
    result = subprocess.run(
        [str(BIN / "pld"), *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line[:4].isdigit()]  # no log
    assert errors == [
        f"Error: {KEY} is set but empty: set it to a secret to sign models, or "
        "unset it to store them unsigned"
    ], result.stderr
