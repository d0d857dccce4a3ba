"""Four ``pld fit`` processes writing to one store at once get four distinct, readable versions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pld_core import load_config

SCRIPTS = Path(sys.executable).parent
POSTGRES = os.environ.get(
    "PLD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
WRITERS = 4


pytestmark = pytest.mark.slow


def persister_entry(kind: str, postfix: str) -> str:
    if kind == "postgresql":
        return f"{{'!': 'database', 'url': {POSTGRES!r}, 'table_postfix': {postfix!r}}}"
    return "{'!': 'file', 'path': here + '/store/model-{version}'}"


@pytest.mark.parametrize("kind", ["postgresql", "file"])
def test_four_concurrent_fits_get_four_versions(kind, write_iris_config):
    postfix = "conc" + uuid.uuid4().hex[:8]
    config = write_iris_config(f"\n    'model_persister': {persister_entry(kind, postfix)},")
    env = {k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")}
    env["PLD_CONFIG"] = str(config)
    try:
        processes = [
            subprocess.Popen(
                [str(SCRIPTS / "pld-fit"), "--no-activate"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(WRITERS)
        ]
        outputs = [process.communicate(timeout=180) for process in processes]
        assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
        written = sorted(
            int(re.search(r"Wrote model with version (\d+)\.", out).group(1)) for out, _ in outputs
        )
        assert written == [1, 2, 3, 4]
        persister = load_config(str(config), __mode__="fit")["model_persister"]
        assert [m["version"] for m in persister.list_models()] == written
        for version in written:
            model = persister.read(version)
            assert model.__metadata__["version"] == version
            assert model.predict([[6.3, 2.5, 4.9, 1.5]])[0] == "Iris-versicolor"
    finally:
        if kind == "postgresql":
            engine = create_engine(POSTGRES)
            with engine.begin() as conn:
                for table in ("model_chunks", "models", "properties"):
                    conn.execute(text(f"DROP TABLE IF EXISTS {table}_{postfix}"))
            engine.dispose()
