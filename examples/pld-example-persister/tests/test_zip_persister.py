"""The example plugin passes pld's persister contract and registers like any plugin."""

from __future__ import annotations

import zipfile

import pytest

from pld_core.testing import PersisterContract, component_factory, make_plugin_manager
from pld_example_persister import ZipPersister


class TestZipPersister(PersisterContract):
    @pytest.fixture
    def persister(self, tmp_path):
        return ZipPersister(str(tmp_path / "models.zip"))

    @pytest.fixture
    def reopen(self):
        return lambda persister: ZipPersister(persister.path)


def test_registered_as_zip():
    import pld_example_persister

    pm = make_plugin_manager([pld_example_persister])
    assert component_factory(pm, "zip") is ZipPersister


def test_archive_holds_one_pickle_per_version_and_the_index(tmp_path):
    from pld_core.testing import contract_model

    persister = ZipPersister(str(tmp_path / "models.zip"))
    persister.write(contract_model(1))
    persister.write(contract_model(2))
    persister.delete(1)
    with zipfile.ZipFile(tmp_path / "models.zip") as archive:
        assert sorted(archive.namelist()) == ["index.json", "models/2.pickle"]
