"""Where an R model's one-off and periodic costs fall: at load, and between requests.

A model loaded from a pickle (a worker reading its model) has already predicted a typical row,
so a first request pays no first-call cost; R's garbage collections, which R runs inside
whichever call reaches its heap trigger, run in ``pld_r.collect.after_request`` instead.
"""

from __future__ import annotations

import logging
import pickle

import numpy
import pandas
import pytest

from pld_r import collect, session
from pld_r.dataset import DatasetLoader
from pld_r.models import ClassificationModel, RegressionModel

pytestmark = pytest.mark.r

ROW = numpy.array([[6.3, 2.5, 4.9, 1.5]])


@pytest.fixture(scope="module")
def iris(request: pytest.FixtureRequest) -> tuple[pandas.DataFrame, numpy.ndarray]:
    from pathlib import Path

    return DatasetLoader(str(Path(__file__).parent / "r" / "models.R"), "iris.data")()  # type: ignore[no-any-return]


def test_a_loaded_model_has_predicted_a_typical_row(script, iris):
    X, y = iris
    model = ClassificationModel(script, "train.forest").fit(X, y)
    sample = model.warm_sample_
    assert list(sample.columns) == list(X.columns)
    numpy.testing.assert_array_equal(sample, [X.median().to_numpy()])
    assert not X.eq(sample.iloc[0]).all(axis=1).any()  # a median row, not a data row
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.__dict__.get("_input_form") == "matrix"  # chosen at load, not on a request
    numpy.testing.assert_array_equal(loaded.predict_proba(ROW), model.predict_proba(ROW))


def test_factor_columns_warm_up_with_their_first_level(script):
    X, y = DatasetLoader(script, "tooth")()
    model = RegressionModel(script, "train.forest.regressor").fit(X, y)
    sample = model.warm_sample_
    assert list(sample.columns) == ["supp", "dose"]
    assert list(sample["supp"]) == ["OJ"] and list(sample["supp"].cat.categories) == ["OJ", "VC"]
    assert list(sample["dose"]) == [1.0]
    loaded = pickle.loads(pickle.dumps(model))
    numpy.testing.assert_array_equal(loaded.predict(X.iloc[:5]), model.predict(X.iloc[:5]))


def test_a_failing_warm_up_is_a_warning_and_the_model_still_loads(script, iris, caplog):
    X, y = iris
    model = ClassificationModel(script, "train.forest").fit(X, y)
    model.warm_sample_ = numpy.array([[1.0, 2.0]])  # two columns for a four-column forest
    with caplog.at_level(logging.WARNING, logger="pld_r.models"):
        loaded = pickle.loads(pickle.dumps(model))
    assert "warm-up predict on a typical row failed" in caplog.text
    numpy.testing.assert_array_equal(loaded.predict_proba(ROW), model.predict_proba(ROW))


def test_without_a_numeric_or_categorical_sample_there_is_no_warm_up(script):
    X = pandas.DataFrame({"a": [1.0, 2.0, 3.0], "flag": [True, False, True]})
    model = RegressionModel(script, "train.lm")
    assert model.fit(X.astype({"flag": float}), [1.0, 2.0, 3.5]).warm_sample_ is not None
    from pld_r.models import warm_sample

    assert warm_sample(X) is None
    assert warm_sample(numpy.array([["a", "b"]])) is None
    assert warm_sample(numpy.array([[numpy.nan, 1.0]])) is None


def test_r_collects_between_requests_not_inside_them(script, iris):
    """A 500-tree forest allocates ~1 MB per predict: R would collect every few dozen calls,
    inside one. After learning R's interval from two of its own collections, pld-r collects
    first, after the request, and R hardly ever has to."""
    X, y = iris
    model = ClassificationModel(script, "train.forest", fit_kwargs={"ntree": 500}).fit(X, y)
    clock = session.base("gc.time")

    def in_call_collections(requests: int, until_learnt: bool = False) -> int:
        count = 0
        for _ in range(requests):
            with session.rcontext():
                before = clock()[2]
            model.predict(ROW)
            with session.rcontext():
                count += clock()[2] != before
            collect.after_request()
            if until_learnt and collect.state.interval is not None:
                break
        return count

    collect.state.interval = collect.state.clock = None  # learn this model's interval
    collect.state.counting = False
    learning = in_call_collections(5000, until_learnt=True)
    assert learning >= 2 and collect.state.interval is not None
    collected = collect.state.collected
    inside = in_call_collections(15 * collect.state.interval)
    assert collect.state.collected - collected >= 10
    assert inside <= 2, f"R collected inside {inside} calls; pld-r collected {collected} times"


def test_r_is_looked_at_once_per_interval(monkeypatch):
    """Between collections a request costs a comparison: R's gc clock is read when one is due."""
    session.r()
    looks: list[int] = []
    monkeypatch.setattr(collect, "_gc_clock", lambda: looks.append(1) or 0.0)
    monkeypatch.setattr(collect.state, "interval", 10)
    monkeypatch.setattr(collect.state, "clock", 0.0)  # R has not collected since the last look
    collected = collect.state.collected
    for count in (0, 1, 9):
        session.calls.count = count
        collect.after_request()
    assert looks == []
    session.calls.count = 10
    collect.after_request()
    assert (collect.state.collected - collected, collect.state.interval) == (1, 11)
    assert session.calls.count == 0
