"""``POST /activate`` on a real server racing ``delete`` in another process never leaves the
active pointer naming a deleted version, on SQLite, PostgreSQL and MariaDB.

``PLD_RACE_ROUNDS`` sets the rounds (default 20).
"""

from __future__ import annotations

import functools
import os
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from pld_core.testing import ServerActivator, free_port, race_activate_delete, running_server
from pld_plugins.persistence.database import Database

SCRIPTS = Path(sys.executable).parent
SERVERS = {
    "postgresql": os.environ.get(
        "PLD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("PLD_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}
STORE = """
    'model_persister': {'!': 'database', 'url': %(url)r, 'table_postfix': %(postfix)r},
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/activate', 'view_func': 'activate', 'methods': ['POST']},
    ],"""


pytestmark = pytest.mark.slow


def _drop_tables(url: str, postfix: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        metadata = sa.MetaData()
        names = [f"{base}_{postfix}" for base in ("model_chunks", "models", "properties")]
        metadata.reflect(engine, only=lambda name, _: name in names)
        metadata.drop_all(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", *sorted(SERVERS)])
def store(request, tmp_path):
    """``(url, table postfix)`` of an empty Database store; server tables dropped after."""
    postfix = f"h{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'models.db'}", postfix
        return
    url = SERVERS[request.param]
    if not url:
        pytest.skip(f"{request.param} tests disabled by an empty URL")
    yield url, postfix
    _drop_tables(url, postfix)


def test_http_activate_racing_delete_leaves_a_sound_store(store, write_iris_config, tmp_path):
    url, postfix = store
    config = write_iris_config(STORE % {"url": url, "postfix": postfix})
    open_store = functools.partial(Database, url, table_postfix=postfix)
    persister = open_store()
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = str(config)
    port = free_port()
    command = [str(SCRIPTS / "pld"), "serve", "--port", str(port)]
    with running_server(command, port, cwd=tmp_path, env=env) as base:
        report = race_activate_delete(
            persister, open_store, open_activator=functools.partial(ServerActivator, base)
        )
    assert report.dangling == 0, str(report)
    assert report.problems == [], f"{report}: " + "; ".join(report.problems[:5])
    assert report.rounds == report.activate_first + report.delete_first
