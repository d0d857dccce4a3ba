"""Model attachments as Palladium 1.2.3 stores them (issue 17): ``attachments/<name>`` metadata
(base64 text) kept out of the pickle and of the metadata JSON — files named
``path.format(version=N) + '-<name>'`` for File, Rest (and S3), rows of ``model_attachments``
for Database — put back on the model when it is read, checked against digests the pickle holds;
stores Palladium wrote open and serve; ``pld export`` and ``pld upgrade`` carry them."""

from __future__ import annotations

import base64
import gzip
import json
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from pld_core import ModelIntegrityError, PldError, create_app, load_config
from pld_core.testing import contract_model
from pld_plugins.persistence.database import Database, DatabaseCLOB
from pld_plugins.persistence.file import File
from pld_plugins.persistence.rest import Rest

REPORT = b"<h1>Report</h1>\n"
BINARY = bytes(range(256))
ATTACHED = {
    "attachments/report.html": base64.b64encode(REPORT).decode("ascii"),
    "attachments/weights.bin": base64.b64encode(BINARY).decode("ascii"),
}
SPECIES = ("Iris-setosa", "Iris-versicolor", "Iris-virginica")
IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris" / "iris.data"
QUERY = {"sepal length": 6.3, "sepal width": 2.5, "petal length": 4.9, "petal width": 1.5}
SERVE_CONFIG = """{
    'model_persister': %s,
    'predict_service': {
        '!': 'predict-service',
        'mapping': [('sepal length', 'float'), ('sepal width', 'float'),
                    ('petal length', 'float'), ('petal width', 'float')],
    },
    'alive': {'process_store_required': ['model_persister']},
}"""


def attached_model(value: int = 1):
    return contract_model(value, **ATTACHED, note="kept")


def unpickled(data: bytes):
    return pickle.loads(gzip.decompress(data))


def check_round_trip(store, model_bytes) -> None:
    """Written, read back, kept out of the pickle and of the listed metadata."""
    version = store.write(attached_model(7))
    store.activate(version)
    listed = store.list_models()[0]
    assert listed["__attachments__"] == sorted(ATTACHED)
    assert not any(key.startswith("attachments/") for key in listed)
    assert listed["note"] == "kept"
    in_pickle = unpickled(model_bytes(version)).__metadata__
    assert not any(key.startswith("attachments/") for key in in_pickle)
    model = store.read()
    assert model.value == 7
    for key, text in ATTACHED.items():
        assert model.__metadata__[key] == text


def test_file_keeps_attachments_in_palladiums_files(tmp_path) -> None:
    store = File(str(tmp_path / "model-{version}"))
    check_round_trip(store, lambda v: (tmp_path / f"model-{v}.pkl.gz").read_bytes())
    assert (tmp_path / "model-1-report.html").read_bytes() == REPORT
    assert (tmp_path / "model-1-weights.bin").read_bytes() == BINARY
    document = (tmp_path / "model-metadata.json").read_text()
    assert ATTACHED["attachments/weights.bin"] not in document
    store.delete(1)
    assert sorted(p.name for p in tmp_path.iterdir() if "model-1" in p.name) == []


@pytest.mark.parametrize("cls", [Database, DatabaseCLOB])
def test_database_keeps_attachments_in_rows(tmp_path, cls) -> None:
    url = f"sqlite:///{tmp_path / 'models.db'}"
    store = cls(url, chunk_size=64)
    store.write(contract_model(1))  # no attachments: Palladium's three tables only
    tables = set(sa.inspect(sa.create_engine(url)).get_table_names())
    assert tables == {"properties", "models", "model_chunks"}

    def model_bytes(version: int) -> bytes:
        return store.read_bytes(version).data

    store.delete(1)
    check_round_trip(store, model_bytes)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT name FROM model_attachments ORDER BY name")).all()
        metadata = conn.execute(sa.text("SELECT metadata FROM models")).scalar_one()
    assert [n for (n,) in names] == ["report.html", "weights.bin"]
    assert ATTACHED["attachments/report.html"] not in metadata
    assert (
        cls(url).read().__metadata__["attachments/weights.bin"]
        == ATTACHED["attachments/weights.bin"]
    )
    store.delete(2)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM model_attachments")).scalar() == 0


def test_database_server_keeps_attachments_in_rows(server_store) -> None:
    """PostgreSQL and MariaDB: the table created mid-way and dropped with the store."""
    store = Database(server_store.url, table_postfix=server_store.table_postfix)
    try:
        check_round_trip(store, lambda v: store.read_bytes(v).data)
        store.delete(1)
        assert store.list_models() == []
    finally:
        engine = sa.create_engine(server_store.url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {server_store.table('model_attachments')}"))
        engine.dispose()


class FileServer:
    """PUT keeps a body under its path, GET answers it, DELETE removes it."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.method == "PUT":
            self.files[request.path] = request.get_data()
            response = Response(status=201)
        elif request.path not in self.files:
            response = Response(status=404)
        elif request.method == "DELETE":
            del self.files[request.path]
            response = Response(status=204)
        else:
            response = Response(self.files[request.path])
        return response(environ, start_response)


def test_rest_keeps_attachments_as_resources() -> None:
    app = FileServer()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        store = Rest(base + "/repo/model-{version}")
        check_round_trip(store, lambda v: app.files[f"/repo/model-{v}.pkl.gz"])
        assert app.files["/repo/model-1-report.html"] == REPORT
        document = app.files["/repo/model-metadata.json"].decode()
        assert ATTACHED["attachments/report.html"] not in document
        store.delete(1)
        assert sorted(app.files) == ["/repo/model-metadata.json"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_changed_attachment_is_refused(tmp_path) -> None:
    store = File(str(tmp_path / "model-{version}"))
    store.activate(store.write(attached_model()))
    (tmp_path / "model-1-report.html").write_bytes(b"<script>evil()</script>")
    with pytest.raises(ModelIntegrityError, match="attachment 'attachments/report.html'"):
        store.read()


def test_an_attachment_that_is_not_base64_is_refused_before_writing(tmp_path) -> None:
    store = File(str(tmp_path / "model-{version}"))
    with pytest.raises(PldError, match="must be base64 text"):
        store.write(contract_model(1, **{"attachments/x.txt": "not base64!"}))
    with pytest.raises(PldError, match="needs a file name"):
        store.write(contract_model(1, **{"attachments/../x": "aGV5"}))
    assert store.list_models() == []


# -- stores as Palladium 1.2.3 wrote them -------------------------------------------------------


def iris_model():
    """A fitted model with Palladium's metadata: ``__attachments__`` in the pickle, no digest."""
    import pandas
    from sklearn.linear_model import LogisticRegression

    frame = pandas.read_csv(IRIS, header=None)
    model = LogisticRegression(max_iter=500).fit(frame.iloc[:, :4].to_numpy(), frame[4])
    return model


def palladium_pickle(model, metadata) -> bytes:
    model.__metadata__ = metadata
    return gzip.compress(pickle.dumps(model))


def palladium_file_store(folder: Path) -> Path:
    """Palladium's FileLike.write, by its format: the pickle and the JSON without the
    attachment, which is its own file ``model-1-report.html``."""
    folder.mkdir()
    entry = {
        "train_timestamp": "2020-05-04T10:00:00",
        "version": 1,
        "__attachments__": ["attachments/report.html"],
    }
    (folder / "model-1.pkl.gz").write_bytes(palladium_pickle(iris_model(), dict(entry)))
    (folder / "model-1-report.html").write_bytes(REPORT)
    document = {
        "models": [entry],
        "properties": {"db-version": "1.2.3", "active-model": "1"},
    }
    (folder / "model-metadata.json").write_bytes(json.dumps(document, indent=4).encode())
    return folder


def palladium_database(url: str) -> None:
    """Palladium's Database by its schema: its Database kept attachments in the JSON."""
    metadata = {"train_timestamp": "2020-05-04T10:00:00", "version": 1, **ATTACHED}
    data = palladium_pickle(iris_model(), dict(metadata))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in (
            "CREATE TABLE properties (id INTEGER PRIMARY KEY, name VARCHAR(1000), "
            "value VARCHAR(1000) NOT NULL)",
            "CREATE TABLE models (version INTEGER PRIMARY KEY, metadata VARCHAR(1000000) NOT NULL)",
            "CREATE TABLE model_chunks (id INTEGER PRIMARY KEY, model_version INTEGER "
            "REFERENCES models(version), blob BLOB NOT NULL)",
        ):
            conn.execute(sa.text(statement))
        conn.execute(
            sa.text(
                "INSERT INTO properties (name, value) VALUES ('db-version', '1.2.3'), "
                "('active-model', '1')"
            )
        )
        conn.execute(
            sa.text("INSERT INTO models (version, metadata) VALUES (1, :m)"),
            {"m": json.dumps(metadata)},
        )
        for start in range(0, len(data), 1000):
            conn.execute(
                sa.text("INSERT INTO model_chunks (model_version, blob) VALUES (1, :b)"),
                {"b": data[start : start + 1000]},
            )
    engine.dispose()


def serve(tmp_path: Path, persister: str) -> Client:
    config = tmp_path / "serve.py"
    config.write_text(SERVE_CONFIG % persister)
    return Client(create_app(load_config(str(config))))


def test_a_palladium_file_store_with_attachments_opens_and_serves(tmp_path) -> None:
    folder = palladium_file_store(tmp_path / "store")
    model = File(str(folder / "model-{version}")).read()
    assert model.__metadata__["attachments/report.html"] == ATTACHED["attachments/report.html"]
    client = serve(
        tmp_path,
        f"{{'!': 'palladium.persistence.File', 'path': {str(folder / 'model-{version}')!r}}}",
    )
    answer = client.get("/predict", query_string=QUERY)
    assert answer.status_code == 200 and answer.json["result"] in SPECIES
    alive = client.get("/alive")
    assert alive.status_code == 200
    metadata = alive.json["model_persister"]["metadata"]
    assert metadata["attachments/report.html"] == ATTACHED["attachments/report.html"]


def test_a_palladium_database_with_attachments_opens_and_serves(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'palladium.db'}"
    palladium_database(url)
    model = Database(url).read()
    assert model.__metadata__["attachments/weights.bin"] == ATTACHED["attachments/weights.bin"]
    client = serve(tmp_path, f"{{'!': 'palladium.persistence.Database', 'url': {url!r}}}")
    answer = client.get("/predict", query_string=QUERY)
    assert answer.status_code == 200 and answer.json["result"] in SPECIES
    assert client.get("/alive").status_code == 200


def pld(tmp_path: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("pld")
    result = subprocess.run(
        [str(script), "--config", str(config), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow
def test_export_and_upgrade_carry_attachments(tmp_path) -> None:
    """A Palladium File store upgraded, then exported into a database and back into files."""
    folder = palladium_file_store(tmp_path / "store")
    url = f"sqlite:///{tmp_path / 'exported.db'}"
    config = tmp_path / "export.py"
    config.write_text(
        f"{{'model_persister': {{'!': 'file', 'path': {str(folder / 'model-{version}')!r}}},"
        f" 'model_persister_export': {{'!': 'database', 'url': {url!r}}}}}"
    )
    pld(tmp_path, config, "upgrade")
    assert File(str(folder / "model-{version}")).list_properties()["db-version"] == "1.0"
    pld(tmp_path, config, "export")
    exported = Database(url)
    assert exported.list_models()[0]["__attachments__"] == ["attachments/report.html"]
    assert (
        exported.read().__metadata__["attachments/report.html"]
        == ATTACHED["attachments/report.html"]
    )

    back = tmp_path / "back"
    config.write_text(
        f"{{'model_persister': {{'!': 'database', 'url': {url!r}}},"
        f" 'model_persister_export': {{'!': 'file', 'path': {str(back / 'model-{version}')!r}}}}}"
    )
    pld(tmp_path, config, "export")
    assert (back / "model-1-report.html").read_bytes() == REPORT


def test_signed_models_keep_their_attachments(tmp_path, monkeypatch) -> None:
    store = File(str(tmp_path / "model-{version}"))
    unsigned = store.write(attached_model(3))
    monkeypatch.setenv("PLD_MODEL_SIGNING_KEY", "a secret")
    signed = store.sign(unsigned)  # pld admin sign: the bytes again, signed, attachments too
    assert (tmp_path / f"model-{signed}-weights.bin").read_bytes() == BINARY
    model = store.read(signed)
    assert model.__metadata__["attachments/report.html"] == ATTACHED["attachments/report.html"]
    fresh = store.write(attached_model(4))
    assert (
        store.read(fresh).__metadata__["attachments/weights.bin"]
        == ATTACHED["attachments/weights.bin"]
    )
