"""Race activate against delete (and concurrent writers) from separate processes, per backend.

The same race the persister contract runs (``pld_core.testing.race_activate_delete``), with
more rounds and a count of what went wrong instead of a failed assertion:

    python bench/store_races.py [--rounds 200] [--backends sqlite,postgresql,mariadb,file]

PostgreSQL and MariaDB are the test servers on 127.0.0.1 (``PLD_TEST_POSTGRES_URL`` and
``PLD_TEST_MYSQL_URL`` override them); each run uses fresh tables, dropped afterwards.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
import uuid

import sqlalchemy as sa

from pld_core.testing import race_activate_delete, race_writers
from pld_plugins.persistence.database import Database
from pld_plugins.persistence.file import File

SERVERS = {
    "postgresql": os.environ.get(
        "PLD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("PLD_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def drop_tables(url: str, postfix: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        metadata = sa.MetaData()
        names = [f"{base}_{postfix}" for base in ("model_chunks", "models", "properties")]
        metadata.reflect(engine, only=lambda name, _: name in names)
        metadata.drop_all(engine)
    finally:
        engine.dispose()


def run(backend: str, rounds: int, folder: str) -> None:
    postfix = f"race{uuid.uuid4().hex[:10]}"
    if backend == "file":
        open_store = functools.partial(File, os.path.join(folder, postfix, "model-{version}"))
    elif backend == "sqlite":
        url = f"sqlite:///{os.path.join(folder, postfix + '.db')}"
        open_store = functools.partial(Database, url)
    else:
        open_store = functools.partial(Database, SERVERS[backend], table_postfix=postfix)
    persister = open_store()
    started = time.monotonic()
    try:
        report = race_activate_delete(persister, open_store, rounds=rounds)
        outcomes = race_writers(open_store, rounds=max(1, rounds // 10))
    finally:
        if backend in SERVERS:
            drop_tables(SERVERS[backend], postfix)
    written = [detail for batch in outcomes for status, detail in batch if status == "ok"]
    failed = sum(status != "ok" for batch in outcomes for status, _ in batch)
    duplicates = len(written) - len(set(written))
    print(f"{backend:<11} activate vs delete: {report} ({time.monotonic() - started:.0f} s)")
    for problem in report.problems[:5]:
        print(f"{'':<11}   {problem}")
    writes = f"{len(written)} writes, {duplicates} duplicate versions, {failed} failed"
    print(f"{'':<11} writers: {writes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql,mariadb,file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            run(backend.strip(), args.rounds, folder)


if __name__ == "__main__":
    main()
