"""The File persister: Palladium's file layout, atomic writes, locking across processes."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from pld_core.testing import contract_model
from pld_plugins.persistence import ModelIntegrityError
from pld_plugins.persistence.file import File


@pytest.fixture
def template(tmp_path):
    return str(tmp_path / "model-{version}.pickle")


@pytest.fixture
def persister(template):
    return File(template)


@pytest.mark.parametrize("path", ["model.pickle", "model-{}.pickle", "model-{name}.pickle"])
def test_path_needs_a_version_placeholder(path):
    with pytest.raises(ValueError, match=r"must contain a \{version\} placeholder"):
        File(path)


@pytest.mark.parametrize("path", ["m-{version}-{other}", "m-{version:03d}"])
def test_path_takes_no_other_placeholder(path):
    with pytest.raises(ValueError, match=r"no placeholder but a plain \{version\}"):
        File(path)


def test_file_names_and_format_are_palladiums(persister, tmp_path):
    version = persister.write(contract_model(7, score_test=0.5))
    persister.activate(version)
    assert sorted(os.listdir(tmp_path)) == [
        "model-1.pickle.pkl.gz",
        "model-metadata.pickle.json",
        "model-metadata.pickle.json.lock",
    ]
    with gzip.open(tmp_path / "model-1.pickle.pkl.gz", "rb") as handle:
        model = pickle.load(handle)
    assert model.value == 7 and model.__metadata__["version"] == 1
    metadata = json.loads((tmp_path / "model-metadata.pickle.json").read_text("utf-8"))
    assert metadata["properties"]["active-model"] == "1"
    assert metadata["properties"]["db-version"] == "1.0"
    assert metadata["properties"]["last-version"] == "1"
    (entry,) = metadata["models"]
    assert entry["version"] == 1 and entry["score_test"] == 0.5
    assert entry["digest"].startswith("sha256:")


def test_reads_a_store_written_by_palladium(tmp_path):
    """A Palladium 1.2 store: no last-version, no digest, an active model."""
    for version in (1, 2):
        model = contract_model(version * 10, version=version)
        with gzip.open(tmp_path / f"model-{version}.pickle.pkl.gz", "wb") as handle:
            pickle.dump(model, handle)
    metadata = {
        "models": [{"version": 1}, {"version": 2}],
        "properties": {"db-version": "1.2", "active-model": "2"},
    }
    (tmp_path / "model-metadata.pickle.json").write_text(json.dumps(metadata, indent=4))
    persister = File(str(tmp_path / "model-{version}.pickle"))
    assert persister.read().value == 20
    assert persister.read(1).value == 10
    persister.delete(2)
    assert persister.write(contract_model()) == 3


def test_upgrade_converts_a_pre_1_0_metadata_list(tmp_path, persister):
    with gzip.open(tmp_path / "model-4.pickle.pkl.gz", "wb") as handle:
        pickle.dump(contract_model(4, version=4), handle)
    (tmp_path / "model-metadata.pickle.json").write_text(json.dumps([{"version": 4}]))
    assert persister.list_models() == [{"version": 4}]
    persister.upgrade()
    metadata = json.loads((tmp_path / "model-metadata.pickle.json").read_text())
    assert metadata["properties"] == {"active-model": "4", "db-version": "1.0"}
    assert persister.read().value == 4


def test_numpy_metadata_is_stored_as_plain_json(persister):
    model = contract_model(
        score_test=np.float32(0.25),
        n_samples=np.int64(150),
        classes=np.array(["a", "b"]),
        ok=np.bool_(True),
    )
    version = persister.write(model)
    (entry,) = persister.list_models()
    assert entry == {
        "score_test": 0.25,
        "n_samples": 150,
        "classes": ["a", "b"],
        "ok": True,
        "version": version,
        "digest": entry["digest"],
    }


def test_a_tampered_model_file_is_refused(persister, tmp_path):
    persister.activate(persister.write(contract_model(1)))
    other = tmp_path / "other-{version}"
    File(str(other)).write(contract_model(666))
    os.replace(tmp_path / "other-1.pkl.gz", tmp_path / "model-1.pickle.pkl.gz")
    with pytest.raises(ModelIntegrityError, match="corrupt or was modified"):
        persister.read()


def test_a_missing_model_file_is_a_lookup_error(persister, tmp_path):
    version = persister.write(contract_model())
    os.remove(tmp_path / "model-1.pickle.pkl.gz")
    with pytest.raises(LookupError, match="listed .* but its file .* is missing"):
        persister.read(version)


def test_a_failed_write_leaves_no_version(persister, tmp_path):
    class Unpicklable:
        __metadata__ = {"name": "broken"}

        def __reduce__(self):
            raise TypeError("cannot pickle this")

    persister.write(contract_model())
    model = Unpicklable()
    model.__metadata__ = {"name": "broken"}
    with pytest.raises(TypeError, match="cannot pickle this"):
        persister.write(model)
    assert model.__metadata__ == {"name": "broken"}  # no version stamped on it
    assert [entry["version"] for entry in persister.list_models()] == [1]
    assert sorted(p.name for p in tmp_path.iterdir() if "tmp" in p.name) == []
    assert persister.write(contract_model()) == 2


def test_reading_returns_a_model_with_the_digest(persister):
    model = contract_model()
    version = persister.write(model)
    assert model.__metadata__["digest"] == persister.list_models()[0]["digest"]
    assert persister.read(version).__metadata__ == persister.list_models()[0]


def test_version_as_string_is_accepted(persister):
    persister.write(contract_model(5))
    persister.activate("1")
    assert persister.read("1").value == 5
    with pytest.raises(LookupError, match="'one'"):
        persister.read("one")


WRITER = textwrap.dedent(
    """
    import sys
    from pld_core.testing import contract_model
    from pld_plugins.persistence.file import File

    persister = File(sys.argv[1])
    print(" ".join(str(persister.write(contract_model())) for _ in range(int(sys.argv[2]))))
    """
)


def test_another_process_gets_a_distinct_version(persister, template):
    assert persister.write(contract_model()) == 1
    done = subprocess.run(
        [sys.executable, "-c", WRITER, template, "1"], check=True, capture_output=True, text=True
    )
    assert done.stdout.split() == ["2"]
    assert persister.write(contract_model()) == 3
    assert [entry["version"] for entry in persister.list_models()] == [1, 2, 3]


def test_concurrent_processes_and_threads_never_share_a_version(persister, template):
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, template, "5"], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    written: list[int] = []

    def write_in_thread():
        for _ in range(5):
            written.append(File(template).write(contract_model()))

    threads = [threading.Thread(target=write_in_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        out, _ = writer.communicate(timeout=60)
        assert writer.returncode == 0
        written.extend(int(version) for version in out.split())
    assert sorted(written) == list(range(1, 36))
    assert [entry["version"] for entry in persister.list_models()] == list(range(1, 36))
    assert all(persister.read(version).__metadata__["version"] == version for version in written)
