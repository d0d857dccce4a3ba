"""``file`` takes any fsspec URL: the persister contract on fsspec's memory file system."""

from __future__ import annotations

import itertools

import pytest

from pld_core.testing import PersisterContract, contract_model
from pld_plugins.persistence.file import File

pytest.importorskip("fsspec", reason="fsspec is not installed (pld-plugins[s3])")

_stores = itertools.count(1)


class TestFileOnFsspecMemoryContract(PersisterContract):
    @pytest.fixture
    def persister(self) -> File:
        return File(f"memory://pld-contract/{next(_stores)}/model-{{version}}")

    @pytest.fixture
    def reopen(self):
        return lambda persister: File(persister.path)

    @pytest.fixture
    def open_store(self):
        pytest.skip("fsspec's memory file system lives in one process: no races between them")


def test_identity_and_layout() -> None:
    import fsspec

    store = File("memory://pld-layout/model-{version}")
    store.activate(store.write(contract_model(1)))
    assert store.store_identity() == "memory:pld-layout/model-{version}"
    names = sorted(fsspec.filesystem("memory").ls("/pld-layout", detail=False))
    assert names == ["/pld-layout/model-1.pkl.gz", "/pld-layout/model-metadata.json"]
    assert store.read().value == 1


def test_file_url_is_the_local_file_system(tmp_path) -> None:
    store = File(f"file://{tmp_path}/model-{{version}}")
    store.write(contract_model(2))
    assert (tmp_path / "model-1.pkl.gz").is_file()


def test_storage_options_need_a_url(tmp_path) -> None:
    with pytest.raises(ValueError, match="storage options are for fsspec URLs"):
        File(str(tmp_path / "model-{version}"), {"anon": True})
