"""The model database goes down during a cache refresh: the server keeps its last model.

A private PostgreSQL cluster (initdb in a temporary folder, its own port) is stopped and
started by the test, so the shared database server is never touched.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from werkzeug.test import Client

from pld_core import create_app, fit, load_config

QUERY = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"PostgreSQL's {name} is not installed (Debian package postgresql)")
    return found[-1]


def _as_postgres(*command: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=120
    )


class PrivatePostgres:
    def __init__(self, folder: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.data = os.path.join(folder, "data")
        self.folder = folder
        shutil.chown(folder, "postgres")
        _as_postgres(_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        _as_postgres(
            _bin("pg_ctl"),
            "-D",
            self.data,
            "-o",
            options,
            "-w",
            "-l",
            os.path.join(self.folder, "log"),
            "start",
        )

    def stop(self) -> None:
        _as_postgres(_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")


@pytest.fixture
def postgres():
    # Not under tmp_path: the postgres user cannot enter pytest's root-only folders.
    folder = tempfile.mkdtemp(prefix="pld-pg-")
    try:
        server = PrivatePostgres(folder)
        server.start()
        yield server
        stop = [_bin("pg_ctl"), "-D", server.data, "-m", "immediate", "stop"]
        subprocess.run(["runuser", "-u", "postgres", "--", *stop], capture_output=True, timeout=60)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_job(client: Client, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get("/alive").json["process_metadata"]["jobs"][job_id]
        if job["status"] != "running":
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_refresh_fails_while_the_database_is_down_and_works_after(postgres, write_iris_config):
    config = write_iris_config(
        f"""
    'model_persister': {{
        '!': 'cached-update', 'impl': {{'!': 'database', 'url': {postgres.url!r}}},
    }},
    'flask_add_url_rules': [
        {{'!': 'url-rule', 'rule': '/update-model-cache', 'view_func': 'update-model-cache',
          'methods': ['POST']}},
    ],"""
    )
    fit(load_config(str(config), __mode__="fit"))
    client = Client(create_app(load_config(str(config))))
    assert client.get("/alive").json["model_persister"]["metadata"]["version"] == 1
    fit(load_config(str(config), __mode__="fit"))  # version 2, active, not yet served

    postgres.stop()
    failed = wait_for_job(client, client.post("/update-model-cache").json["job_id"])
    assert failed["status"] == "error" and "OperationalError" in failed["info"]
    alive = client.get("/alive")
    assert alive.status_code == 200
    cache = alive.json["process_metadata"]["model_cache"]["model_persister"]
    assert "OperationalError" in cache["last_error"] and cache["version"] == 1
    assert alive.json["model_persister"]["metadata"]["version"] == 1
    for _ in range(5):  # still answering, with the last model
        assert client.get("/predict", query_string=QUERY).status_code == 200

    postgres.start()
    done = wait_for_job(client, client.post("/update-model-cache").json["job_id"])
    assert done["status"] == "finished", done
    assert client.get("/alive").json["model_persister"]["metadata"]["version"] == 2
    assert client.get("/predict", query_string=QUERY).status_code == 200
