"""The R dataset loader: keyword arguments reach R, results come back as pandas / numpy."""

from __future__ import annotations

import numpy
import pandas
import pytest

from pld_r.dataset import DatasetLoader

pytestmark = pytest.mark.r


def test_returns_a_dataframe_and_labels(script):
    loader = DatasetLoader(script, "iris.data")
    X, y = loader()
    assert isinstance(X, pandas.DataFrame) and X.shape == (150, 4)
    assert list(X.columns) == ["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]
    assert loader.feature_names_ == list(X.columns)
    assert isinstance(y, numpy.ndarray) and set(y) == {"setosa", "versicolor", "virginica"}


def test_keyword_arguments_are_passed_to_the_r_function(script):
    X, y = DatasetLoader(script, "iris.data", n=7, species=["virginica", "setosa"])()
    assert len(X) == len(y) == 7
    assert list(y) == ["setosa"] * 7  # R's head() after filtering: setosa rows come first
    X, y = DatasetLoader(script, "iris.data", species="versicolor")()
    assert set(y) == {"versicolor"} and len(y) == 50


def test_matrix_and_null_target(script):
    X, y = DatasetLoader(script, "no.target")()
    assert isinstance(X, numpy.ndarray) and X.shape == (5, 4)
    assert y is None


def test_factor_columns_become_categoricals(script):
    X, y = DatasetLoader(script, "tooth")()
    assert isinstance(X["supp"].dtype, pandas.CategoricalDtype)
    assert list(X["supp"].cat.categories) == ["OJ", "VC"]
    assert y.dtype == float and len(y) == 60


def test_r_console_output_goes_to_logging(script, caplog):
    caplog.set_level("INFO", logger="pld_r.console")
    DatasetLoader(script, "chatty")()
    messages = {(r.levelname, r.getMessage()) for r in caplog.records}
    assert ("INFO", '[1] "printed by R"') in messages
    assert ("INFO", "a message from R") in messages
    assert any(level == "WARNING" and "a warning from R" in m for level, m in messages)
