"""The plugin: its entry point, its registered names, and no juliacall (or numpy) on load."""

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
        "module.pld_register_models(register=lambda *a, **k: None)\n"
        "heavy = {'juliacall', 'juliapkg', 'julia', 'numpy', 'sklearn'}\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_version_comes_from_the_installed_metadata() -> None:
    import pld_julia

    assert pld_julia.__version__ == version("pld-julia")


def test_models_are_registered_under_short_and_palladium_names(pm, register_plugin) -> None:
    from pld_core.testing import component_factory
    from pld_julia import hooks
    from pld_julia.models import ClassificationModel, RegressionModel

    register_plugin(hooks)
    for name in ("julia-classifier", "palladium.julia.ClassificationModel"):
        model = component_factory(pm, name)("A.fit", "A.predict", encode_labels=True)
        assert type(model) is ClassificationModel and model.encode_labels is True
    for name in ("julia-regressor", "palladium.julia.RegressionModel"):
        model = component_factory(pm, name)("A.fit", "A.predict", julia_file="m.jl")
        assert type(model) is RegressionModel and model.julia_file == "m.jl"


def test_factories_have_the_models_signature() -> None:
    import inspect

    from pld_julia import hooks
    from pld_julia.models import ClassificationModel, RegressionModel

    for factory, model in (
        (hooks.julia_classifier, ClassificationModel),
        (hooks.julia_regressor, RegressionModel),
    ):
        expected = list(inspect.signature(model).parameters)
        assert list(inspect.signature(factory).parameters) == expected
