"""pld-r installs, exposes its entry point and stays free of rpy2 at import."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points, version


def test_entry_point_is_registered_in_group_pld() -> None:
    (ep,) = entry_points(group="pld", name="pld_r")
    assert ep.value == "pld_r.hooks"
    assert ep.dist is not None
    assert ep.dist.name == "pld-r"


def test_plugin_module_imports_without_rpy2() -> None:
    # A fresh interpreter, so that an rpy2 imported by another test cannot hide a leak.
    code = (
        "import sys\n"
        "from importlib.metadata import entry_points\n"
        "(ep,) = entry_points(group='pld', name='pld_r')\n"
        "module = ep.load()\n"
        "assert module.__name__ == 'pld_r.hooks', module\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'rpy2')\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_version_comes_from_the_installed_metadata() -> None:
    import pld_r

    assert pld_r.__version__ == version("pld-r")
