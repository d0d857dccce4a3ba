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

FIRST_PARTY = ("pld_core", "pld_plugins", "pld_r", "pld_julia", "pld_example_persister")


def _import_installed(name: str) -> None:
    spec = importlib.util.find_spec(name)
    # A spec without an origin is a namespace package: the repository folder, not an install.
    if spec is not None and spec.origin is not None:
        importlib.import_module(name)


for _name in FIRST_PARTY:
    _import_installed(_name)
