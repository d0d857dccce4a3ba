"""Dataset loaders: delimited files through pandas, SQL queries, and the empty loader.

pandas and SQLAlchemy are imported when data is loaded, not when the plugin is, so
``pld plugins`` and server start-up stay fast.
"""

from __future__ import annotations

from typing import Any

from pld_core import DatasetLoader, hookimpl


def split_target(frame: Any, target_column: str | None, ndarray: bool) -> tuple[Any, Any]:
    """Split a DataFrame into ``(X, y)``; numpy arrays unless ``ndarray`` is false."""
    if target_column:
        if target_column not in frame.columns:
            raise KeyError(
                f"target_column {target_column!r} is not among the columns {list(frame.columns)}"
            )
        data, target = frame.drop(columns=[target_column]), frame[target_column]
    else:
        data, target = frame, None
    if not ndarray:
        return data, target
    return data.to_numpy(), None if target is None else target.to_numpy()


class CSV(DatasetLoader):
    """Load a delimited file with :func:`pandas.read_csv`; every extra keyword passes through.

    :param path: file name or URL.
    :param target_column: the column to predict; ``None`` returns ``y = None``.
    :param ndarray: return numpy arrays (default) instead of a DataFrame and Series.
    """

    reader = "read_csv"

    def __init__(
        self, path: str, target_column: str | None = None, ndarray: bool = True, **kwargs: Any
    ):
        self.path = path
        self.target_column = target_column
        self.ndarray = ndarray
        self.kwargs = kwargs
        self.feature_names_: list[str] | None = None

    def __call__(self) -> tuple[Any, Any]:
        import pandas

        frame = getattr(pandas, self.reader)(self.path, **self.kwargs)
        X, y = split_target(frame, self.target_column, self.ndarray)
        self.feature_names_ = [str(c) for c in frame.columns if c != self.target_column]
        return X, y


class Table(CSV):
    """Like :class:`CSV` but through :func:`pandas.read_table` (tab-separated by default)."""

    reader = "read_table"


class SQL(DatasetLoader):
    """Load the result of an SQL query (or a whole table) from any SQLAlchemy database URL.

    :param url: SQLAlchemy URL, e.g. ``postgresql+psycopg://user@host/db``.
    :param sql: a query, or a table name.
    :param target_column: the column to predict.
    :param ndarray: return numpy arrays (default) instead of a DataFrame and Series.
    """

    def __init__(
        self,
        url: str,
        sql: str,
        target_column: str | None = None,
        ndarray: bool = True,
        **kwargs: Any,
    ):
        self.url = url
        self.sql = sql
        self.target_column = target_column
        self.ndarray = ndarray
        self.kwargs = kwargs
        self.feature_names_: list[str] | None = None
        self._engine: Any = None

    def __call__(self) -> tuple[Any, Any]:
        import pandas
        import sqlalchemy

        if self._engine is None:
            self._engine = sqlalchemy.create_engine(self.url, poolclass=sqlalchemy.pool.NullPool)
        with self._engine.connect() as connection:
            frame = pandas.read_sql(self.sql, connection, **self.kwargs)
        X, y = split_target(frame, self.target_column, self.ndarray)
        self.feature_names_ = [str(c) for c in frame.columns if c != self.target_column]
        return X, y


class EmptyDatasetLoader(DatasetLoader):
    """Loads nothing: ``(None, None)``, for models that need no data."""

    def __call__(self) -> tuple[None, None]:
        return None, None


@hookimpl
def pld_register_dataset_loaders(register: Any) -> None:
    register("table", Table, aliases=["palladium.dataset.Table"])
    register("csv", CSV, aliases=["palladium.dataset.CSV"])
    register("sql", SQL, aliases=["palladium.dataset.SQL"])
    register("empty", EmptyDatasetLoader, aliases=["palladium.dataset.EmptyDatasetLoader"])
    from pld_plugins.persistence import LazyFactory  # dateutil loads when a config uses it

    scheduled = LazyFactory("pld_plugins.scheduled_dataset", "ScheduledDatasetLoader")
    register("scheduled", scheduled, aliases=["palladium.dataset.ScheduledDatasetLoader"])


@hookimpl
def pld_register_decorators(register: Any) -> None:
    from pld_plugins.cache import diskcache, picklediskcache

    register("diskcache", diskcache, aliases=["palladium.cache.diskcache"])
    register("picklediskcache", picklediskcache, aliases=["palladium.cache.picklediskcache"])


@hookimpl
def pld_register_components(register: Any) -> None:
    from pld_plugins.cache import compute_key_attrs

    register("compute_key_attrs", compute_key_attrs, aliases=["palladium.cache.compute_key_attrs"])
