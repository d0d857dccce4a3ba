"""The pld-julia skeleton installs, exposes its entry point and never imports juliacall."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points, version


def test_entry_point_is_registered_in_group_pld() -> None:
    (ep,) = entry_points(group="pld", name="pld_julia")
    assert ep.value == "pld_julia.hooks"
    assert ep.dist is not None
    assert ep.dist.name == "pld-julia"


def test_plugin_module_imports_without_juliacall() -> None:
    # A fresh interpreter, so that a juliacall imported by another test cannot hide a leak.
    code = (
        "import sys\n"
        "from importlib.metadata import entry_points\n"
        "(ep,) = entry_points(group='pld', name='pld_julia')\n"
        "module = ep.load()\n"
        "assert module.__name__ == 'pld_julia.hooks', module\n"
        "heavy = {'juliacall', 'juliapkg', 'julia'}\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_version_comes_from_the_installed_metadata() -> None:
    import pld_julia

    assert pld_julia.__version__ == version("pld-julia")
