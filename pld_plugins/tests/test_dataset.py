"""Dataset loaders against real files and a real SQLite database."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from pld_plugins.dataset import CSV, SQL, EmptyDatasetLoader, Table

ROWS = "1.0,2.0,a\n3.0,4.0,b\n5.0,6.0,a\n"


@pytest.fixture
def csv_path(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(ROWS)
    return str(path)


def test_table_passes_every_keyword_to_pandas_and_splits_the_target(csv_path):
    loader = Table(csv_path, target_column="label", names=["x1", "x2", "label"], sep=",", nrows=2)
    X, y = loader()
    assert isinstance(X, np.ndarray) and X.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert isinstance(y, np.ndarray) and y.tolist() == ["a", "b"]
    assert loader.feature_names_ == ["x1", "x2"]


def test_skiprows_and_no_target(csv_path):
    X, y = CSV(csv_path, names=["x1", "x2", "label"], skiprows=2)()
    assert y is None
    assert X.tolist() == [[5.0, 6.0, "a"]]


def test_ndarray_false_returns_frame_and_series(csv_path):
    X, y = CSV(csv_path, names=["x1", "x2", "label"], target_column="label", ndarray=False)()
    assert isinstance(X, pd.DataFrame) and list(X.columns) == ["x1", "x2"]
    assert isinstance(y, pd.Series) and y.tolist() == ["a", "b", "a"]


def test_table_reads_tabs_by_default(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("x\ty\n1\t2\n")
    X, y = Table(str(path), target_column="y")()
    assert X.tolist() == [[1]] and y.tolist() == [2]


def test_unknown_target_column_names_the_columns(csv_path):
    with pytest.raises(KeyError, match="target_column 'nope' is not among"):
        CSV(csv_path, names=["x1", "x2", "label"], target_column="nope")()


def test_sql_loads_a_query_from_sqlite(tmp_path):
    db = tmp_path / "data.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE samples (a REAL, b REAL, label TEXT)")
        connection.executemany(
            "INSERT INTO samples VALUES (?, ?, ?)", [(1, 2, "x"), (3, 4, "y"), (5, 6, "x")]
        )
    loader = SQL(
        f"sqlite:///{db}", "SELECT a, b, label FROM samples WHERE a > 1", target_column="label"
    )
    X, y = loader()
    assert X.tolist() == [[3.0, 4.0], [5.0, 6.0]] and y.tolist() == ["y", "x"]
    frame, target = SQL(f"sqlite:///{db}", "samples", ndarray=False)()
    assert len(frame) == 3 and target is None


def test_empty_loader():
    assert EmptyDatasetLoader()() == (None, None)
