"""Pickling: the fitted Julia state travels as bytes written by Julia's Serialization.

Against the juliacall TEST DOUBLE, whose Serialization is a numpy stand-in: what is checked is
that pld_julia drops live Julia values, keeps the bytes, and restores them in a new process
after loading the Julia file that defines the state's type.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pld_core import PldError
from pld_julia import bridge
from pld_julia.models import ClassificationModel

FAKE = Path(__file__).with_name("fake_juliacall.py")


@pytest.fixture
def fitted(fake_julia, centroid_file, iris) -> ClassificationModel:
    X, y = iris
    model = ClassificationModel(
        "NearestCentroid.fit",
        "NearestCentroid.predict",
        encode_labels=True,
        julia_file=str(centroid_file),
    )
    return model.fit(X[:100], y[:100])


def test_state_holds_serialized_bytes_and_no_live_julia_values(fake_julia, fitted):
    state = fitted.__getstate__()
    assert isinstance(state["_fitted_bytes"], bytes)
    assert state["_fitted_bytes"].startswith(fake_julia.MAGIC)
    assert "_fitted" not in state
    live = (fake_julia.JuliaStruct, fake_julia.JuliaArray)
    assert not any(isinstance(value, live) for value in state.values())
    [serialized] = fake_julia.calls_to("serialize")
    assert serialized.args[0].type_name == "NearestCentroid.Model"


def test_an_unfitted_model_pickles_without_julia(no_juliacall):
    model = ClassificationModel("A.fit", "A.predict", fit_kwargs={"k": 1})
    copy = pickle.loads(pickle.dumps(model))
    assert copy.get_params() == model.get_params()


def test_round_trip_predicts_the_same(fake_julia, fitted, iris):
    X, _ = iris
    expected = fitted.predict(X[100:])
    restored = pickle.loads(pickle.dumps(fitted))
    [data] = fake_julia.calls_to("deserialize")[0].args
    assert data.dtype == np.uint8  # bytes go to Julia as a UInt8 vector
    np.testing.assert_array_equal(restored.predict(X[100:]), expected)
    assert restored.get_params() == fitted.get_params()
    assert list(restored.classes_) == list(fitted.classes_)


def test_restore_in_a_new_process(fitted, iris, tmp_path):
    """A fresh interpreter with a fresh double: Julia state comes only from the bytes."""
    X, _ = iris
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(fitted))
    np.save(tmp_path / "X.npy", X[100:])
    np.save(tmp_path / "expected.npy", fitted.predict(X[100:]))
    code = textwrap.dedent(
        f"""
        import pickle, sys
        import importlib.util
        import numpy as np
        spec = importlib.util.spec_from_file_location("juliacall", {str(FAKE)!r})
        fake = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fake)
        sys.modules["juliacall"] = fake
        model = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
        included = list(fake.included)
        calls = [c.name for c in fake.calls if c.name in ("include", "deserialize")]
        predictions = model.predict(np.load({str(tmp_path / "X.npy")!r}))
        expected = np.load({str(tmp_path / "expected.npy")!r})
        assert (predictions == expected).all(), (predictions, expected)
        assert calls == ["include", "deserialize"], calls  # the type exists before reading
        print(included)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "nearest_centroid.jl" in result.stdout


def test_restore_reports_a_missing_julia_clearly(fitted, monkeypatch):
    data = pickle.dumps(fitted)
    monkeypatch.setitem(sys.modules, "juliacall", None)  # a process without juliacall
    monkeypatch.setattr(bridge, "_SESSION", None)
    with pytest.raises(PldError, match="pip install juliacall"):
        pickle.loads(data)


def test_unreadable_state_is_a_clear_error(fitted, fake_julia):
    state = fitted.__getstate__()
    state["_fitted_bytes"] = b"garbage"
    restored = object.__new__(type(fitted))
    with pytest.raises(PldError, match="Serialization could not read the stored state"):
        restored.__setstate__(state)


def test_restore_without_the_julia_file_names_what_is_missing(fitted, fake_julia, monkeypatch):
    state = fitted.__getstate__()
    state["julia_file"] = state["julia_file_path_"] = None  # nothing defines the type
    monkeypatch.setattr(fake_julia, "Main", fake_julia._Main())
    monkeypatch.setattr(bridge, "_SESSION", None)
    restored = object.__new__(type(fitted))
    with pytest.raises(PldError, match="Julia package NearestCentroid could not be loaded"):
        restored.__setstate__(state)
