"""R failures become one PldError naming the script and the function, with R's message."""

from __future__ import annotations

import numpy
import pandas
import pytest

from pld_core import PldError
from pld_r import session
from pld_r.dataset import DatasetLoader
from pld_r.models import ClassificationModel, RegressionModel

pytestmark = pytest.mark.r


def one_line_error(excinfo: pytest.ExceptionInfo[PldError]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_syntax_error_names_script_and_function(broken_script):
    with pytest.raises(PldError) as excinfo:
        DatasetLoader(broken_script, "dataset")()
    message = one_line_error(excinfo)
    assert message.startswith(f"R error sourcing {broken_script} (for dataset()): ")
    assert "unexpected" in message  # R's parser, in its words


def test_missing_function(script):
    with pytest.raises(PldError) as excinfo:
        ClassificationModel(script, "no.such.function").fit([[1.0]], ["a"])
    assert one_line_error(excinfo) == f"R script {script} defines no function no.such.function()"


def test_missing_script(tmp_path):
    with pytest.raises(PldError, match=r"R script nope\.R \(for dataset\(\)\) not found"):
        DatasetLoader(str(tmp_path / "nope.R").replace(str(tmp_path) + "/", ""), "dataset")()


def test_runtime_error_in_a_loader(script):
    with pytest.raises(PldError) as excinfo:
        DatasetLoader(script, "boom")()
    message = one_line_error(excinfo)
    assert message.startswith(f"R error in boom() of {script}: ")
    assert message.endswith("boom")


def test_runtime_error_in_predict(script):
    model = RegressionModel(script, "train.lm", predict_funcname="boom")
    model.fit(pandas.DataFrame({"x": [1.0, 2.0, 3.0]}), [1.0, 2.0, 3.5])
    with pytest.raises(PldError, match=r"^R error in boom\(\) of .*models\.R: .*boom$"):
        model.predict(numpy.array([[1.0]]))
    model.predict_funcname = None
    assert model.predict(numpy.array([[4.0]]))[0] > 3.5  # R keeps working after an error


def test_a_failed_source_is_retried(tmp_path):
    path = tmp_path / "later.R"
    path.write_text("f <- function( {\n")
    with pytest.raises(PldError, match="R error sourcing"):
        session.function(str(path), "f")
    path.write_text("f <- function() 42\n")
    assert session.function(str(path), "f")()[0] == 42
