"""Repository-wide pytest set-up; loaded before any test module is collected.

Each distribution's folder has the name of the package it installs (``pld_r/`` holds
``pld_r/src/pld_r/``). With ``--import-mode=importlib``, pytest (8.3.4 and later, pytest#13257)
imports ``pld_r/tests/test_x.py`` as ``pld_r.tests.test_x`` and, when ``pld_r`` is not imported
yet, binds the *folder* ``pld_r/`` as a namespace package named ``pld_r`` in ``sys.modules``. That
empty namespace shadows the installed package, and ``import pld_r`` in the tests then finds
nothing. Importing the installed first-party packages here, before collection, puts the real
packages in ``sys.modules`` first. Packages that are not installed in the current environment
(``nox -s "tests(r)"`` has only pld-core and pld-r) are left alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Generator, Iterator
from typing import Any

import pytest

FIRST_PARTY = ("pld_core", "pld_plugins", "pld_r", "pld_julia", "pld_example_persister")


def _import_installed(name: str) -> None:
    spec = importlib.util.find_spec(name)
    # A spec without an origin is a namespace package: the repository folder, not an install.
    if spec is not None and spec.origin is not None:
        importlib.import_module(name)


for _name in FIRST_PARTY:
    _import_installed(_name)


@pytest.fixture(autouse=True)
def _restore_sys_path() -> Iterator[None]:
    """Take the folders a test put on ``sys.path`` off again when it ends.

    Loading a config puts its folder first on ``sys.path`` (as Palladium does). Left there, one
    test's files shadow modules for every later test in the worker and for the processes those
    tests spawn: a config named ``py.py`` in one tmp_path broke ``import pytest`` in the store
    workers of every later race test.
    """
    saved = list(sys.path)
    yield
    sys.path[:] = saved


@pytest.fixture(autouse=True)
def _fresh_process_store() -> None:
    """Each test starts with the ``process_store`` of a fresh process.

    Serving keeps the model and the cache status there (as Palladium does); what one test's app
    left would otherwise decide what a later test on the same worker finds.
    """
    from pld_core import process_store

    process_store.clear()
    process_store["process_metadata"] = {}


# -- the whole suite in parallel ----------------------------------------------------------------
#
# ``python -m pytest`` (the configured testpaths, no path given) leaves out the tests marked
# ``slow`` (``--slow`` or ``.ci/run`` runs them too) and runs on pytest-xdist workers with
# ``--dist loadgroup``: most tests wait on subprocesses and servers, so more workers than cores
# pay. A run of chosen paths stays serial (``-s``, ``--pdb`` and tracebacks as usual) unless
# ``-n`` is given; ``-n 0`` or ``-p no:xdist`` runs the whole suite serially. Tests that must not
# overlap share an ``xdist_group`` marker.

#: Workers per core for ``-n auto``; ``PYTEST_XDIST_AUTO_NUM_WORKERS`` overrides the total.
WORKERS_PER_CORE = 2


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which may be absent
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: two workers per core (the tests mostly wait), or the variable's count."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own implementation reads it
    return WORKERS_PER_CORE * len(os.sched_getaffinity(0))


#: Set when this run left the slow tests out, so the summary can say how to run them.
_SLOW_LEFT_OUT = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        help="also run the tests marked slow when running the whole suite (.ci/run does)",
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if terminalreporter.config.stash.get(_SLOW_LEFT_OUT, False):
        terminalreporter.write_line(
            "tests marked slow were left out: python -m pytest --slow (or .ci/run) runs them too"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The whole suite: slow tests left out unless ``--slow``; in parallel when xdist is here.

    ``xdist_group`` markers are honoured with any ``-n``.
    """
    whole_suite = config.args_source is pytest.Config.ArgsSource.TESTPATHS
    if whole_suite and not config.option.slow and not config.option.markexpr:
        # xdist's workers parse the same command line, so they come to the same choice
        config.option.markexpr = "not slow"
        config.stash[_SLOW_LEFT_OUT] = True
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    if config.option.numprocesses is None and whole_suite and not config.option.usepdb:
        config.option.numprocesses = "auto"
    if config.option.numprocesses and config.option.dist == "no":  # groups apply to any -n
        config.option.dist = "loadgroup"
    if config.option.dist == "loadgroup" and pytest.version_tuple[:2] >= (9, 2):
        # pytest 9.2 keeps a test's id where pytest-xdist 3.8 cannot add the group to it
        raise pytest.UsageError(
            f"pytest {pytest.__version__} with pytest-xdist does not group tests by "
            "xdist_group, so tests sharing a module's fixtures would run on several workers: "
            "install pytest<9.1 (as .ci/run does), or run serially with -n 0"
        )


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, on the controller
def pytest_configure_node(node: Any) -> None:
    """Tell each worker the distribution mode the controller runs with."""
    node.workerinput["pld_dist"] = node.config.option.dist


#: Fixture scopes whose value the tests of one module (or class) share.
SHARED_SCOPES = frozenset({"package", "module", "class"})


def _shares_state(item: pytest.Item) -> bool:
    """Whether ``item`` uses a fixture that lives longer than one test but not the session."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope in SHARED_SCOPES for defs in info.name2fixturedefs.values())


def _schedule_rank(item: pytest.Item) -> int:
    """Slow tests first, then the integration folders, then the distributions' unit tests."""
    if item.get_closest_marker("slow") is not None:
        return 0
    return 1 if item.nodeid.startswith(("tests/", "examples/")) else 2


def pytest_configure(config: pytest.Config) -> None:
    """On an xdist worker: group by ``xdist_group`` when the controller does.

    A worker parses the command line itself, so it does not see the ``--dist`` the controller
    chose in :func:`pytest_cmdline_main`, and xdist would not group the worker's tests.
    """
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and workerinput.get("pld_dist") == "loadgroup":
        config.option.loadgroup = True


@pytest.hookimpl(wrapper=True)  # before any plugin's hook: xdist reads the markers in its own
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Generator[None, None, None]:
    """On an xdist worker: keep each module's shared fixtures on one worker; slow tests first.

    Tests sharing a module- or class-scoped fixture (a server, a cluster, a venv, a fitted
    store) run on one worker in file order, as written: set up once, and a test that builds on
    an earlier one's state still finds it. Long tests start first so that none is left running
    alone at the end. Every worker sorts alike, so their collections stay the same.
    """
    if not hasattr(config, "workerinput"):
        return (yield)
    for item in items:
        if _shares_state(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(key=_schedule_rank)
    return (yield)
