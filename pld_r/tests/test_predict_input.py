"""How a predict hands rows to R: once per call, a matrix where the model takes one, no copies.

The reference answers come from R's own ``predict`` on the data.frame the model was trained on,
built through pandas, one row at a time.
"""

from __future__ import annotations

import logging

import numpy
import pandas
import pytest

from pld_r import session
from pld_r.dataset import DatasetLoader
from pld_r.models import ClassificationModel, RegressionModel

pytestmark = pytest.mark.r

ROWS = numpy.array(
    [[6.3, 2.5, 4.9, 1.5], [5.1, 3.5, 1.4, 0.2], [7.7, 3.0, 6.1, 2.3], [5.9, 3.0, 5.1, 1.8]]
    + [[4.9, 3.1, 1.5, 0.1], [6.7, 3.1, 4.4, 1.4], [5.8, 2.7, 3.9, 1.2]]
)  # 7 rows x 4 columns: a transposed or mis-ordered matrix cannot pass for the right one


@pytest.fixture(scope="module")
def iris() -> tuple[pandas.DataFrame, numpy.ndarray]:
    from pathlib import Path

    return DatasetLoader(str(Path(__file__).parent / "r" / "models.R"), "iris.data")()  # type: ignore[no-any-return]


def r_own_proba(model: ClassificationModel, row: numpy.ndarray) -> numpy.ndarray:
    """R's predict(type="prob") on a one-row data.frame made by pandas, as classes_ columns."""
    frame = session.to_r(pandas.DataFrame(row.reshape(1, -1), columns=model.columns_))
    with session.rcontext():
        answer = session.base("predict")(model.rmodel_, frame, type="prob")
        names = list(session.base("colnames")(answer))
        values = list(session.base("as.vector")(answer))
    out = numpy.zeros(len(model.classes_))
    for name, value in zip(names, values, strict=True):
        out[list(model.classes_).index(name)] = value
    return out


def test_many_rows_match_r_row_by_row_and_use_a_matrix(script, iris):
    X, y = iris
    model = ClassificationModel(script, "train.forest").fit(X, y)
    proba = model.predict_proba(ROWS)
    assert model.__dict__["_input_form"] == "matrix"  # randomForest answers a matrix the same
    reference = numpy.array([r_own_proba(model, row) for row in ROWS])
    numpy.testing.assert_array_equal(proba, reference)
    numpy.testing.assert_array_equal(model.predict_proba(ROWS), reference)  # the matrix path
    numpy.testing.assert_array_equal(
        model.predict_proba(pandas.DataFrame(ROWS, columns=X.columns)), reference
    )
    assert list(model.predict(ROWS[:1])) == ["versicolor"]


def test_a_model_that_needs_a_data_frame_keeps_getting_one(script, caplog):
    """lm's predict refuses a matrix: the data.frame form is kept and R's refusal not logged."""
    X = pandas.DataFrame(ROWS[:, :3], columns=["a", "b", "c"])
    y = ROWS[:, 3] * 2 + 1
    model = RegressionModel(script, "train.lm").fit(X, y)
    with caplog.at_level(logging.INFO, logger="pld_r.console"):
        first = model.predict(ROWS[:, :3])
    assert model.__dict__["_input_form"] == "frame"
    assert not [r for r in caplog.records if "matrix" in r.getMessage()]
    numpy.testing.assert_allclose(first, model.predict(ROWS[:, :3]))
    with session.rcontext():
        fitted = numpy.asarray(session.base("fitted")(model.rmodel_))
    numpy.testing.assert_allclose(first, fitted)


def test_regressor_answers_one_number_per_row(script, iris):
    X, _ = iris
    model = RegressionModel(script, "train.forest.regressor").fit(X.iloc[:, :3], X.iloc[:, 3])
    values = model.predict(ROWS[:, :3])
    assert values.shape == (7,)
    assert model.__dict__["_input_form"] == "matrix"
    one_by_one = [model.predict(row)[0] for row in ROWS[:, :3]]
    numpy.testing.assert_array_equal(values, one_by_one)


def test_factor_columns_go_to_r_as_a_data_frame(script):
    tooth = DatasetLoader(script, "tooth")()
    X, y = tooth
    model = RegressionModel(script, "train.forest.regressor").fit(X, y)
    assert len(model.predict(X.iloc[:5])) == 5
    assert "_input_form" not in model.__dict__  # no numeric form to choose


def test_predict_makes_no_converter_copies(script, iris, monkeypatch):
    """The cause of issue 20's lost ~900 µs: rpy2's localconverter copies its converter on
    every entry, and the copy's dispatch caches start empty. A predict must make none."""
    from rpy2.robjects import conversion  # not at collection: pld-r starts R its own way

    X, y = iris
    model = ClassificationModel(script, "train.forest").fit(X, y)
    model.predict(ROWS)
    made = []
    original = conversion.Converter.__init__

    def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(args[0] if args else kwargs.get("name"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(conversion.Converter, "__init__", counting)
    for _ in range(5):
        model.predict(ROWS[:1])
        model.predict(ROWS)
    assert made == []


def test_r_answers_are_read_in_r_order(script):
    """A 3 x 2 R matrix comes back as the same 3 x 2 array, names kept."""
    with session.rcontext():
        matrix = session.r().r(
            "matrix(c(1, 2, 3, 4, 5, 6), nrow = 3, dimnames = list(NULL, c('a', 'b')))"
        )
    names, values = session.read_table(matrix)
    assert names == ["a", "b"]
    numpy.testing.assert_array_equal(values, [[1, 4], [2, 5], [3, 6]])
    built = session.numeric_matrix(numpy.array([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]), ["a", "b"])
    with session.rcontext():
        assert session.base("identical")(built, matrix)[0] is True


def test_rows_with_another_number_of_columns_are_refused_naming_the_columns(script, iris):
    """A matrix row of 5 numbers once passed for the 4 training columns and got an answer."""
    X, y = iris
    model = ClassificationModel(script, "train.forest").fit(X, y)
    for rows in (ROWS[:, :3], numpy.hstack([ROWS, ROWS[:, :1]])):
        with pytest.raises(session.RError, match=r"trained on 4 columns \['Sepal.Length'"):
            model.predict(rows)
    with pytest.raises(session.RError, match="takes 4 columns"):
        session.numeric_matrix(ROWS[:, :3], list(X.columns))
    assert list(model.predict(ROWS[:1])) == ["versicolor"]
