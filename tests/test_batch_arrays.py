"""``pld predict``'s model answers as Arrow arrays: the same arrays ``pyarrow.array`` builds,
over numpy's buffers for numbers and text, so a batch run needs no pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy
import pyarrow as pa
import pytest

from pld_core.default_plugins.batch.arrays import to_arrow

CASES = {
    "float64": numpy.array([1.5, -2.0, -numpy.inf, numpy.inf]),
    "float32": numpy.array([0.25, 3.0], dtype=numpy.float32),
    "int64": numpy.arange(-3, 4),
    "uint8": numpy.array([0, 255], dtype=numpy.uint8),
    "column of a 2-D answer": numpy.arange(12.0).reshape(4, 3)[:, 1],
    "a slice": numpy.arange(10)[3:7],
    "text objects": numpy.array(["Iris-setosa", "Ünïcode ✓", "", "a,b\n"], dtype=object),
    "fixed-width text": numpy.array(["x", "yy", "zzz"]),
    "bools": numpy.array([True, False]),
    "objects of numbers": numpy.array([1, 2, 3], dtype=object),
    "a list": [1, 2, 3],
    "empty": numpy.array([], dtype=numpy.float64),
}


@pytest.mark.parametrize("values", CASES.values(), ids=CASES.keys())
def test_the_array_is_the_one_pyarrow_builds(values):
    built = to_arrow(values)
    built.validate(full=True)
    assert built.equals(pa.array(values))


def test_nan_stays_a_number_not_a_null():
    built = to_arrow(numpy.array([1.0, numpy.nan]))
    assert built.null_count == 0 and numpy.isnan(built.to_numpy()[1])


def test_mixed_values_become_text_as_in_the_json_output():
    built = to_arrow(numpy.array(["a", 1, None, [1, 2]], dtype=object))
    assert built.type == pa.string() and built.to_pylist() == ["a", "1", None, "[1,2]"]


def test_numbers_and_text_need_no_pandas():
    code = (
        "import sys, numpy\n"
        "from pld_core.default_plugins.batch.arrays import to_arrow\n"
        "to_arrow(numpy.arange(3.0)); to_arrow(numpy.array(['a', 'b'], dtype=object))\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
