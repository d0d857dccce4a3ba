"""Rpy2Transform: plain request rows get the training data.frame's columns and factor levels."""

from __future__ import annotations

import numpy
import pandas
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from pld_r.dataset import DatasetLoader
from pld_r.models import RegressionModel
from pld_r.transform import Rpy2Transform

pytestmark = pytest.mark.r


@pytest.fixture
def tooth(script):
    return DatasetLoader(script, "tooth")()


def test_rows_get_columns_dtypes_and_levels(tooth):
    X, _ = tooth
    transform = Rpy2Transform().fit(X)
    assert transform.columns_ == ["supp", "dose"]
    assert transform.levels_ == {"supp": ["OJ", "VC"]} and transform.numeric_ == ["dose"]
    frame = transform.transform(numpy.array([["VC", "0.5"]], dtype=object))
    assert list(frame["supp"].cat.categories) == ["OJ", "VC"]  # both levels, one row
    assert frame["dose"].dtype == float
    with pytest.raises(ValueError, match="column 'supp': unknown levels \\['XX'\\]"):
        transform.transform([["XX", 1.0]])
    assert clone(transform).get_params() == {}


def test_pipeline_with_an_r_forest_predicts_single_plain_rows(script, tooth):
    X, y = tooth
    pipeline = Pipeline(
        [
            ("rpy2", Rpy2Transform()),
            ("regressor", RegressionModel(script, "train.forest.regressor")),
        ]
    ).fit(X, y)
    expected = pipeline.predict(X.iloc[[10, 40]])
    rows = numpy.array([[X["supp"].iloc[10], 1.0], [X["supp"].iloc[40], 2.0]], dtype=object)
    rows[:, 1] = X["dose"].iloc[[10, 40]].to_numpy()
    numpy.testing.assert_allclose(pipeline.predict(rows), expected)
    assert pipeline.score(X, y) > 0.5


def test_without_it_r_sees_other_levels(script, tooth):
    X, y = tooth
    model = RegressionModel(script, "train.forest.regressor").fit(X, y)
    one_level = pandas.DataFrame({"supp": pandas.Categorical(["VC"]), "dose": [0.5]})
    with pytest.raises(Exception, match="(?i)type of predictors|levels"):
        model.predict(one_level)
