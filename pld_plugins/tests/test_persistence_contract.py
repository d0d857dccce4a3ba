"""Every standard persister passes pld_core's persister contract, and the plugin registers them."""

from __future__ import annotations

import functools
import inspect
import subprocess
import sys

import pytest

from pld_core.testing import PersisterContract, component_factory, make_plugin_manager
from pld_plugins import persistence
from pld_plugins.persistence.cached import CachedUpdatePersister
from pld_plugins.persistence.database import Database, DatabaseCLOB
from pld_plugins.persistence.file import File


class TestFileContract(PersisterContract):
    @pytest.fixture
    def persister(self, tmp_path):
        return File(str(tmp_path / "models" / "model-{version}.pickle"))

    @pytest.fixture
    def reopen(self):
        return lambda persister: File(persister.path)


class TestDatabaseSQLiteContract(PersisterContract):
    @pytest.fixture
    def persister(self, tmp_path):
        return Database(f"sqlite:///{tmp_path / 'models.db'}")

    @pytest.fixture
    def reopen(self):
        return lambda persister: Database(persister.url)

    @pytest.fixture
    def open_store(self, persister):
        return functools.partial(Database, persister.url)


class TestDatabaseCLOBSQLiteContract(PersisterContract):
    @pytest.fixture
    def persister(self, tmp_path):
        return DatabaseCLOB(f"sqlite:///{tmp_path / 'models.db'}", chunk_size=7)

    @pytest.fixture
    def reopen(self):
        return lambda persister: DatabaseCLOB(persister.url, chunk_size=5)

    @pytest.fixture
    def open_store(self, persister):
        return functools.partial(DatabaseCLOB, persister.url, chunk_size=5)


class TestDatabaseInMemorySQLiteContract(PersisterContract):
    @pytest.fixture
    def persister(self):
        return Database("sqlite://", table_postfix="mem")

    def test_a_second_instance_sees_the_same_store(self, persister, make_model):
        """An in-memory database belongs to its engine: a second instance starts empty."""
        persister.write(make_model(1))
        assert [m["version"] for m in persister.list_models()] == [1]
        assert Database("sqlite://", table_postfix="mem").list_models() == []

    @pytest.fixture
    def open_store(self):
        pytest.skip("an in-memory SQLite database lives in one process: no races between them")


class TestDatabaseServerContract(PersisterContract):
    """PostgreSQL and MariaDB, with small chunks so models span several rows.

    The first instance pools its connections to keep the suite fast; ``reopen`` uses the
    default ``NullPool``.
    """

    persister_class = Database

    @pytest.fixture
    def persister(self, server_store):
        persister = self.persister_class(
            server_store.url,
            poolclass="QueuePool",
            chunk_size=64,
            table_postfix=server_store.table_postfix,
        )
        yield persister
        persister.close()

    @pytest.fixture
    def reopen(self):
        cls = self.persister_class
        return lambda p: cls(p.url, chunk_size=50, table_postfix=p.table_postfix)

    @pytest.fixture
    def open_store(self, persister):
        cls = self.persister_class
        return functools.partial(
            cls, persister.url, chunk_size=50, table_postfix=persister.table_postfix
        )


class TestDatabaseCLOBServerContract(TestDatabaseServerContract):
    persister_class = DatabaseCLOB


class TestCachedUpdatePersisterContract(PersisterContract):
    """Outside serving mode the cache is a pass-through and keeps the contract."""

    @pytest.fixture
    def persister(self, tmp_path):
        return CachedUpdatePersister(File(str(tmp_path / "model-{version}")))

    @pytest.fixture
    def reopen(self):
        return lambda persister: CachedUpdatePersister(File(persister.impl.path))

    @pytest.fixture
    def open_store(self, persister):
        return functools.partial(CachedUpdatePersister, File(persister.impl.path))


# -- registration ---------------------------------------------------------------------------

NAMES = {
    "file": File,
    "database": Database,
    "database-clob": DatabaseCLOB,
    "cached-update": CachedUpdatePersister,
}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_short_and_palladium_names_build_the_classes(tmp_path, name):
    pm = make_plugin_manager([persistence])
    cls = NAMES[name]
    for registered in (name, f"palladium.persistence.{cls.__name__}"):
        factory = component_factory(pm, registered)
        assert inspect.signature(factory) == inspect.signature(cls)
    kwargs = {
        "file": {"path": str(tmp_path / "m-{version}")},
        "database": {"url": f"sqlite:///{tmp_path / 'm.db'}", "table_postfix": "x"},
        "database-clob": {"url": f"sqlite:///{tmp_path / 'm.db'}"},
        "cached-update": {"impl": File(str(tmp_path / "m-{version}"))},
    }[name]
    factory = component_factory(pm, name)
    inspect.signature(factory).bind(**kwargs)
    with pytest.raises(TypeError):
        inspect.signature(factory).bind(no_such_argument=1, **kwargs)
    assert type(factory(**kwargs)) is cls


def test_listing_the_plugin_does_not_import_sqlalchemy():
    code = (
        "import sys\n"
        "from pld_core.testing import component_factory, make_plugin_manager\n"
        "from pld_plugins import persistence\n"
        "pm = make_plugin_manager([persistence])\n"
        "component_factory(pm, 'database')\n"
        "heavy = [m for m in ('sqlalchemy', 'numpy', 'pandas') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
