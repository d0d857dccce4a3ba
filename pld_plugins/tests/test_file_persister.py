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


# -- temporary files of interrupted writes ---------------------------------------------------

KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pld_core.testing import contract_model
    from pld_plugins.persistence.file import File

    def killed(fd):  # the model's bytes are in the temporary file: die before the rename
        os.kill(os.getpid(), signal.SIGKILL)

    os.fsync = killed
    File(sys.argv[1]).write(contract_model())
    """
)

PAUSED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pld_core.testing import contract_model
    from pld_plugins.persistence.file import File

    real_fsync, signal_path = os.fsync, sys.argv[2]

    def paused(fd):  # hold the store's lock with the temporary file written, for a while
        real_fsync(fd)
        if not os.path.exists(signal_path):
            open(signal_path, "w").close()
            time.sleep(1.0)

    os.fsync = paused
    print(File(sys.argv[1]).write(contract_model(7)))
    """
)


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def test_the_next_write_removes_what_a_killed_writer_left(persister, template, tmp_path):
    persister.activate(persister.write(contract_model(1)))
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, template], check=False)
    assert killed.returncode == -9
    (left,) = _temporaries(tmp_path)
    assert left.startswith("model-2.pickle.pkl.gz.tmp-")
    assert [entry["version"] for entry in persister.list_models()] == [1]  # no phantom version
    assert persister.write(contract_model(2)) == 2
    assert _temporaries(tmp_path) == []
    assert persister.read(2).value == 2 and persister.read().value == 1


def test_stale_temporaries_of_models_and_metadata_go_others_stay(persister, tmp_path):
    hexes = ["0" * 32, "a" * 32, "b" * 32]
    stale = [
        f"model-9.pickle.pkl.gz.tmp-{hexes[0]}",
        f"model-metadata.pickle.json.tmp-{hexes[1]}",
    ]
    kept = [
        f"other-9.pickle.pkl.gz.tmp-{hexes[2]}",  # another store's
        "model-9.pickle.pkl.gz.tmp-notours",  # not a name pld's writes use
        "model-9.pickle.pkl.gz",  # not a temporary file
    ]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"partial")
    assert persister.stale_temporaries() == sorted(str(tmp_path / name) for name in stale)
    persister.write(contract_model())
    remaining = sorted(p.name for p in tmp_path.iterdir())
    assert not set(stale) & set(remaining)
    assert set(kept) <= set(remaining)


def test_a_write_in_progress_keeps_its_temporary_file(persister, template, tmp_path):
    """Another process's write holds the store's lock: the next write waits, removes nothing."""
    signal_path = tmp_path / "paused"
    writer = subprocess.Popen(
        [sys.executable, "-c", PAUSED_WRITER, template, str(signal_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    for _ in range(600):
        if signal_path.exists() or writer.poll() is not None:
            break
        threading.Event().wait(0.05)
    assert signal_path.exists(), "the writer did not get to its temporary file"
    mine = persister.write(contract_model(8))
    out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0
    theirs = int(out)
    assert {mine, theirs} == {1, 2}
    assert persister.read(theirs).value == 7 and persister.read(mine).value == 8
    assert _temporaries(tmp_path) == []
