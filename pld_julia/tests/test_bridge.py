"""The bridge: the one clear error when Julia or juliacall is missing, name resolution, include.

Julia itself is replaced by the juliacall TEST DOUBLE (fake_juliacall.py) where one is needed.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from pld_core import PldError
from pld_julia import bridge
from pld_julia.bridge import JuliaFunctionError, JuliaUnavailableError, find_julia, get_session
from pld_julia.models import ClassificationModel

JULIA_VARIABLES = (*bridge.JULIA_EXE_VARIABLES, bridge.JULIA_BINDIR_VARIABLE)


@pytest.fixture
def no_julia_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Julia executable: an empty PATH and none of the variables that name one."""
    for variable in (*JULIA_VARIABLES, bridge.AUTO_INSTALL_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delitem(sys.modules, "juliacall", raising=False)
    monkeypatch.setattr(bridge, "_SESSION", None)


def fake_executable(folder: Path, name: str = "julia") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_missing_juliacall_is_one_clear_error(no_juliacall):
    with pytest.raises(JuliaUnavailableError) as raised:
        get_session()
    message = str(raised.value)
    assert isinstance(raised.value, PldError)
    assert message.startswith("Julia models need juliacall and Julia: juliacall is not installed.")
    assert "pip install juliacall" in message and "julialang.org" in message
    assert "juliaup" in message and "PYTHON_JULIAPKG_EXE" in message
    assert "\n" not in message


def test_missing_julia_stops_before_importing_juliacall(no_julia_anywhere, monkeypatch):
    monkeypatch.setattr(bridge, "_juliacall_installed", lambda: True)
    with pytest.raises(JuliaUnavailableError) as raised:
        get_session()
    message = str(raised.value)
    assert message.startswith("Julia models need juliacall and Julia: no Julia executable found.")
    assert "julialang.org" in message and "PYTHON_JULIAPKG_EXE" in message
    assert "PLD_JULIA_AUTO_INSTALL=yes" in message
    assert "juliacall" not in sys.modules  # importing it would have tried to download Julia


def test_a_model_without_julia_fails_at_fit_not_when_built(no_juliacall, centroid_file, iris):
    model = ClassificationModel(
        "NearestCentroid.fit", "NearestCentroid.predict", encode_labels=True
    )
    X, y = iris
    with pytest.raises(JuliaUnavailableError, match="pip install juliacall"):
        model.fit(X, y)


def test_find_julia_honours_juliacall_variables(no_julia_anywhere, monkeypatch, tmp_path):
    assert find_julia() is None
    on_path = fake_executable(tmp_path / "path")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_julia() == str(on_path)
    bindir = fake_executable(tmp_path / "bindir")
    monkeypatch.setenv("PYTHON_JULIACALL_BINDIR", str(bindir.parent))
    assert find_julia() == str(bindir)
    exe = fake_executable(tmp_path / "exe", "julia-1.11")
    monkeypatch.setenv("PYTHON_JULIAPKG_EXE", str(exe))
    assert find_julia() == str(exe)
    monkeypatch.setenv("PYTHON_JULIAPKG_EXE", str(tmp_path / "nope"))
    assert find_julia() is None  # a variable naming nothing is not silently skipped


def test_juliaup_counts_as_julia(no_julia_anywhere, monkeypatch, tmp_path):
    juliaup = fake_executable(tmp_path / "ju", "juliaup")
    monkeypatch.setenv("PATH", str(juliaup.parent))
    assert find_julia() == str(juliaup)


def test_session_starts_once_and_loads_serialization(fake_julia):
    session = get_session()
    assert get_session() is session
    sevals = [call.args[0] for call in fake_julia.calls_to("seval")]
    assert sevals[0] == "using Serialization"
    assert sevals.count("using Serialization") == 1


def test_dotted_names_import_the_top_module_once(fake_julia):
    session = get_session()
    session.function("LeastSquares.fit")
    session.function("LeastSquares.predict")
    sevals = [call.args[0] for call in fake_julia.calls_to("seval")]
    assert sevals.count("import LeastSquares") == 1
    assert "isdefined(Main, :LeastSquares)" in sevals


def test_a_missing_julia_package_says_how_to_install_it(fake_julia):
    with pytest.raises(JuliaFunctionError) as raised:
        get_session().function("SVM.svm")
    message = str(raised.value)
    assert message.startswith("Julia package SVM could not be loaded (ArgumentError: Package SVM")
    assert 'Pkg.add("SVM")' in message and "\n" not in message


def test_an_undefined_function_is_named(fake_julia):
    with pytest.raises(JuliaFunctionError, match="Julia function nowhere is not defined"):
        get_session().function("nowhere")


@pytest.mark.parametrize("name", ["SVM.svm; rm()", "1abc", "", "SVM..svm", None])
def test_only_dotted_julia_names_reach_julia(fake_julia, name):
    session = get_session()
    before = len(fake_julia.calls)
    with pytest.raises(JuliaFunctionError, match="is not a dotted Julia name"):
        session.function(name)
    assert fake_julia.calls[before:] == []


def test_julia_file_is_included_once_from_the_working_directory(
    fake_julia, centroid_file, monkeypatch
):
    monkeypatch.chdir(centroid_file.parent)
    session = get_session()
    session.include("nearest_centroid.jl")
    session.include(str(centroid_file))
    assert fake_julia.included == [str(centroid_file)]  # absolute, and only once
    assert session.function("NearestCentroid.fit") is not None
    sevals = [call.args[0] for call in fake_julia.calls_to("seval")]
    assert "import NearestCentroid" not in sevals  # defined by the file, not a package


def test_a_missing_julia_file_is_named(fake_julia, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(JuliaFunctionError, match=r"Julia file 'models\.jl' not found"):
        get_session().include("models.jl")


def test_a_julia_file_that_fails_to_load_is_named(fake_julia, tmp_path):
    broken = tmp_path / "broken.jl"
    broken.write_text("module Broken\nfunction explode(x)\nend\nend\n")
    with pytest.raises(JuliaFunctionError, match=f"Julia file {broken} failed to load"):
        get_session().include(broken)


def test_auto_install_lets_juliacall_find_julia_itself(no_julia_anywhere, monkeypatch):
    monkeypatch.setattr(bridge, "_juliacall_installed", lambda: True)
    monkeypatch.setenv(bridge.AUTO_INSTALL_VARIABLE, "yes")
    import builtins

    real_import = builtins.__import__

    def refuse_juliacall(name, *args, **kwargs):
        if name == "juliacall":
            raise RuntimeError("could not download Julia\nmore detail")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse_juliacall)
    with pytest.raises(JuliaUnavailableError) as raised:
        get_session()
    assert "juliacall could not start Julia (could not download Julia more detail)." in str(
        raised.value
    )
    assert "\n" not in str(raised.value)


def test_path_variable_is_not_needed_when_juliacall_is_already_running(fake_julia, monkeypatch):
    monkeypatch.setenv("PATH", os.devnull)
    assert get_session().juliacall is fake_julia
