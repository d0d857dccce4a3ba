"""Model versions are ASCII integers from 1 to MAX_VERSION on every endpoint and command.

One parser (``pld_core.to_version``) decides; anything else is a 400 JSON answer or a usage
error (exit 2) naming the value, and no SQL or database error text reaches a client.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from werkzeug.test import Client

from pld_core import MAX_VERSION, create_app, load_config, to_int, to_version
from pld_core.testing import contract_model
from pld_plugins.persistence.database import Database
from pld_plugins.persistence.file import File

SCRIPTS = Path(sys.executable).parent

#: Not versions: non-ASCII digits, Python's digit separators, signs, spaces, out of range.
BAD = [
    "١",  # an Arabic-Indic one, which int() takes as 1
    "1_0",  # int() takes it as 10
    "²",
    " 1",
    "+1",
    "-1",
    "0",
    "1.0",
    "1e3",
    "",
    "0x10",
    str(MAX_VERSION + 1),
    "9223372036854775808",  # above int64
    "9" * 40,
]


@pytest.mark.parametrize("raw", ["1", "007", "42", str(MAX_VERSION)])
def test_ascii_digits_in_range_are_versions(raw):
    assert to_version(raw) == int(raw)


@pytest.mark.parametrize("raw", [1, np.int64(3), MAX_VERSION])
def test_integers_in_range_are_versions(raw):
    assert to_version(raw) == int(raw)


@pytest.mark.parametrize("raw", [*BAD, True, 1.0, 0, -3, MAX_VERSION + 1, None, b"1"])
def test_anything_else_is_a_value_error_naming_it(raw):
    with pytest.raises(ValueError, match="is not an integer from 1 to 2147483647") as excinfo:
        to_version(raw)
    assert repr(raw)[:20] in str(excinfo.value)


def test_integers_in_text_are_ascii_only():
    assert to_int(" 12 ") == 12 and to_int("-3") == -3
    for raw in ("١", "1_0", "²", "12a"):
        with pytest.raises(ValueError, match="is not an integer"):
            to_int(raw)
    with pytest.raises(ValueError, match=r"'11111.*\.\.\.' is not an integer"):
        to_int("1" * 5000)


# -- over HTTP ----------------------------------------------------------------------------------

ROUTES = """
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/activate', 'view_func': 'activate', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/test', 'view_func': 'test', 'methods': ['POST']},
    ],"""
DATABASE = """
    'model_persister': {'!': 'database', 'url': 'sqlite:///' + here + '/models.db'},"""
FILE = """
    'model_persister': {'!': 'file', 'path': here + '/model-{version}'},"""


@pytest.fixture(params=["database", "file"])
def store_config(request, write_iris_config, tmp_path):
    """An iris config with /activate and /test over a store holding versions 1 and 2."""
    if request.param == "database":
        persister = Database(f"sqlite:///{tmp_path / 'models.db'}")
        extra = DATABASE
    else:
        persister = File(str(tmp_path / "model-{version}"))
        extra = FILE
    persister.write(contract_model(1))
    persister.write(contract_model(2))
    return write_iris_config(extra + ROUTES)


def _message(response) -> str:
    assert response.mimetype == "application/json"
    return response.json["metadata"]["error_message"]


@pytest.mark.parametrize("raw", BAD)
def test_activate_refuses_what_is_not_a_version(store_config, raw):
    client = Client(create_app(load_config(str(store_config))))
    response = client.post("/activate", data={"model_version": raw})
    assert response.status_code == 400
    message = _message(response)
    assert message.startswith("BadRequest: model_version: ")
    assert repr(raw)[:20] in message
    listing = client.get("/list").json
    assert "active-model" not in listing["properties"]


def test_activate_takes_ascii_versions(store_config):
    client = Client(create_app(load_config(str(store_config))))
    response = client.post("/activate", data={"model_version": "2"})
    assert response.status_code == 200
    assert response.json["properties"]["active-model"] == "2"
    missing = client.post("/activate", data={"model_version": "9"})
    assert missing.status_code == 404 and "No model with version 9" in _message(missing)


@pytest.mark.parametrize("raw", ["١", "1_0", str(MAX_VERSION + 1)])
def test_the_test_task_refuses_what_is_not_a_version(store_config, raw):
    client = Client(create_app(load_config(str(store_config))))
    response = client.post("/test", data={"model_version": raw})
    assert response.status_code == 400
    assert repr(raw) in _message(response)


def test_a_database_failure_reaches_the_client_without_sql(write_iris_config, tmp_path):
    """A store whose tables are not Palladium's: the database fails with SQL in its error."""
    with sqlite3.connect(tmp_path / "models.db") as db:
        db.execute("CREATE TABLE models (wrong INTEGER)")
    client = Client(create_app(load_config(str(write_iris_config(DATABASE + ROUTES)))))
    response = client.post("/activate", data={"model_version": "1"})
    assert response.status_code == 500
    message = _message(response)
    assert "failed to activate (OperationalError)" in message
    for leak in ("SELECT", "[SQL", "models.version", "no such column"):
        assert leak not in message


# -- on the command line ------------------------------------------------------------------------


def run(*args: str, config: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = str(config)
    return subprocess.run(
        [str(SCRIPTS / args[0]), *args[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
    )


@pytest.mark.parametrize(
    ("command", "raw"),
    [
        (("pld", "admin", "activate", "١"), "١"),
        (("pld", "admin", "delete", "1_0"), "1_0"),
        (("pld", "export", "--version", "9223372036854775808"), "9223372036854775808"),
        (("pld", "test", "--model-version", "١"), "١"),
        (("pld", "predict", "--model-version", "0", "in.csv", "out.csv"), "0"),
        (("pld-admin", "delete", "0"), "0"),
        (("pld-test", "--model-version", "1_0"), "1_0"),
    ],
    ids=lambda value: " ".join(value[:3]) if isinstance(value, tuple) else None,
)
def test_commands_refuse_what_is_not_a_version(write_iris_config, command, raw):
    config = write_iris_config(DATABASE)
    result = run(*command, config=config)
    assert result.returncode == 2, result.stderr
    assert f"{raw!r} is not an integer from 1 to {MAX_VERSION}" in result.stderr
    assert "Traceback" not in result.stderr
