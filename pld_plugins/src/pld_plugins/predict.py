"""Palladium's predict service: records → a row of typed values per sample, by a ``mapping``.

The service is the part of a prediction that varies: turning records into the model's input
(:meth:`PredictService.model_input`). pld's one predict path (``pld_core.PredictPath``) does the
rest — the model, the ``pld_predict`` hook, the answer — for HTTP, ``pld stream`` and
``pld predict`` alike. Everything that can be decided once (converters per field, the fast
path for all-number samples) is decided in ``__init__``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from itertools import chain
from operator import itemgetter
from typing import Any

from werkzeug.wrappers import Request, Response

from pld_core import InputError, PredictPath, hookimpl, to_bool, to_float, to_int, to_str
from pld_core import PredictService as PredictServiceInterface

logger = logging.getLogger(__name__)


#: The mapping's type names. Samples are lenient where JSON and query strings call for it: a
#: whole float (3.0) is an integer, a number is text; NaN passes (the model decides).
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "float": partial(to_float, finite=False),
    "int": partial(to_int, whole_floats=True),
    "str": partial(to_str, numbers=True),
    "bool": to_bool,
}


_JSON_NUMBERS = {float, int}
_JSON_TYPES = {"float": "number", "int": "integer", "str": "string", "bool": "boolean"}


class BadRequest(InputError):
    """The client's input is wrong (Palladium's name): answered 400 with this message."""


class PredictService(PredictServiceInterface):
    """Palladium's predict service: a ``mapping`` of input fields to types, one model call.

    :param mapping: ``[(field, type), ...]`` in the order the model saw its features; types
        are ``float``, ``int``, ``str`` and ``bool``.
    :param params: ``[(name, type), ...]`` extra keyword arguments for ``predict``, taken from
        the query string, else from a same-named model attribute.
    :param entry_point: the URL path of this service.
    :param decorator_list_name: the config decorator list that wraps this service's view.
    :param predict_proba: answer with class probabilities instead of labels.
    :param unwrap_sample: pass a single-field sample as a scalar instead of a row.
    """

    def __init__(
        self,
        mapping: Sequence[Sequence[str]],
        params: Sequence[Sequence[str]] = (),
        entry_point: str = "/predict",
        decorator_list_name: str = "predict_decorators",
        predict_proba: bool = False,
        unwrap_sample: bool = False,
        service_metadata: Mapping[str, Any] | None = None,
    ):
        self.mapping = [tuple(item) for item in mapping]
        self.params = [tuple(item) for item in params]
        self.fields = _converters(self.mapping, "mapping")
        self.param_converters = _converters(self.params, "params")
        if not entry_point.startswith("/"):
            raise ValueError(f"entry_point must start with '/', not {entry_point!r}")
        self.entry_point = entry_point
        self.decorator_list_name = decorator_list_name
        self.predict_proba = predict_proba
        self.method = "predict_proba" if predict_proba else "predict"
        self.unwrap_sample = unwrap_sample
        self.service_metadata = dict(service_metadata or {})
        numeric = all(type_name in ("float", "int") for _, type_name in self.mapping)
        self._dtype: Any = float if numeric and not unwrap_sample else object
        own_parsing = type(self).sample_from_data is not PredictService.sample_from_data
        all_float = all(type_name == "float" for _, type_name in self.mapping)
        fast = all_float and not unwrap_sample and not own_parsing and len(self.mapping) > 1
        self._fast_getter = itemgetter(*(name for name, _ in self.mapping)) if fast else None
        own_input = type(self).model_input is not PredictService.model_input
        self._float_columns = [name for name, _ in self.mapping] if fast and not own_input else []

    # -- the model's input ------------------------------------------------------------------

    def check_model(self, model: Any) -> str | None:
        """What keeps this service from feeding ``model`` correctly, or ``None``.

        Compares the mapping with the ``feature_names`` the model was trained on. The same
        names in another order would send every value to the wrong feature and give wrong
        answers without an error: that is a problem, and the service refuses to predict.
        Other differences (other names, another count) are only logged: a custom model may
        take its input its own way, and a wrong count fails in the model anyway.
        """
        trained = (getattr(model, "__metadata__", None) or {}).get("feature_names")
        fields = [name for name, _ in self.mapping]
        if not trained or self.unwrap_sample or fields == list(trained):
            return None
        version = (getattr(model, "__metadata__", None) or {}).get("version")
        which = f"model version {version}" if version is not None else "the model"
        if sorted(fields) == sorted(trained):
            return (
                f"the predict service's mapping lists the features in another order than "
                f"{which} was trained on: {fields} vs {list(trained)}; fix the mapping's order"
            )
        logger.warning(
            "the predict service's mapping %s differs from the features %s was trained on %s",
            fields,
            which,
            list(trained),
        )
        return None

    # -- parsing -----------------------------------------------------------------------------

    def sample_from_data(self, model: Any, data: Mapping[str, Any]) -> list[Any] | Any:
        """One sample (a row of typed values in mapping order) from one object of input."""
        if not isinstance(data, Mapping):
            raise BadRequest(f"each sample must be a JSON object, not {type(data).__name__}")
        row = []
        for name, convert in self.fields:
            if name not in data:
                raise BadRequest(f"missing parameter {name!r}")
            try:
                row.append(convert(data[name]))
            except (TypeError, ValueError) as exc:
                raise BadRequest(f"parameter {name!r}: {exc}") from None
        return row[0] if self.unwrap_sample else row

    def params_from_data(self, model: Any, data: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments for ``predict``: from ``data``, else from the model's attributes."""
        params = {}
        for name, convert in self.param_converters:
            if name in data:
                try:
                    params[name] = convert(data[name])
                except (TypeError, ValueError) as exc:
                    raise BadRequest(f"parameter {name!r}: {exc}") from None
            elif hasattr(model, name):
                params[name] = getattr(model, name)
        return params

    def model_input(
        self, model: Any, records: list[Any], query: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """One row of typed values per record (mapping order), and ``params`` from the query.

        :raises BadRequest: a record is not an object, lacks a field, or has a bad value
            (naming the sample by its place in ``records``, from 0, when there are several).
        """
        import numpy

        X = self._fast_rows(records) if self._fast_getter is not None else None
        if X is None:
            rows = []
            for number, record in enumerate(records):
                try:
                    rows.append(self.sample_from_data(model, record))
                except InputError as exc:  # name which of several, as pld's input check does
                    if len(records) == 1:
                        raise
                    raise BadRequest(f"sample {number}: {exc.args[0]}") from None
            X = numpy.array(rows, dtype=self._dtype)
        return X, self.params_from_data(model, query)

    def table_input(
        self, model: Any, table: Any, query: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]] | None:
        """Whole float columns of an Arrow batch straight into the model input.

        Taken only where it gives what :meth:`model_input` gives: every field a float, each
        column numbers (or text Arrow converts as a whole) without a missing value. Anything
        else returns ``None``: the records way then reads the batch and names a bad value.
        """
        if not self._float_columns:
            return None
        import numpy
        import pyarrow
        import pyarrow.compute

        columns = []
        for name in self._float_columns:
            if table.schema.get_field_index(name) < 0:
                return None
            column = table.column(name)
            kind = column.type
            usable = (
                pyarrow.types.is_floating(kind)
                or pyarrow.types.is_integer(kind)
                or pyarrow.types.is_string(kind)
                or pyarrow.types.is_large_string(kind)
            )
            if column.null_count or not usable:
                return None
            try:
                column = pyarrow.compute.cast(column, pyarrow.float64())
            except pyarrow.ArrowInvalid:  # text that is not a number: let the checks speak
                return None
            columns.append(_float_values(column))
        return numpy.column_stack(columns), self.params_from_data(model, query)

    def predict_records(self, model: Any, records: Any, query: Mapping[str, Any]) -> Any:
        """What ``model`` answers for ``records``, on pld's predict path (without a server)."""
        return PredictPath(self, lambda: model).predictions(records, query)

    def _fast_rows(self, records: list[Any]) -> Any:
        """All-numeric JSON records straight into an array; ``None`` sends them the slow way.

        The slow way (``sample_from_data``) checks value by value and names the bad one; here
        C-level loops take the common case of complete objects of JSON numbers.
        """
        import numpy

        try:
            rows = list(map(self._fast_getter, records))  # type: ignore[arg-type]
        except (KeyError, TypeError, IndexError):
            return None
        if not set(map(type, chain.from_iterable(rows))) <= _JSON_NUMBERS:
            return None  # strings, booleans, nulls...: let the checks speak
        return numpy.array(rows, dtype=float)

    # -- describing ---------------------------------------------------------------------------

    def openapi_operations(self) -> dict[str, Any]:
        """GET (one sample in the query) and POST (a JSON list of samples) for ``/openapi.json``.

        The server adds the error answers (400, 500, 503) every predict endpoint shares.
        """
        fields = {name: {"type": _JSON_TYPES[type_name]} for name, type_name in self.mapping}
        sample = {"type": "object", "required": list(fields), "properties": fields}
        label: dict[str, Any] = {}  # whatever the model answers
        if self.predict_proba:  # null where the model's arithmetic overflowed (NaN)
            label = {"type": "array", "items": {"type": ["number", "null"]}}
        extra = [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": _JSON_TYPES[type_name]},
            }
            for name, type_name in self.params
        ]

        def answer(result: dict[str, Any], description: str) -> dict[str, Any]:
            schema = {
                "type": "object",
                "required": ["result", "metadata"],
                "properties": {"result": result, "metadata": {"type": "object"}},
            }
            return {"description": description, "content": {"application/json": {"schema": schema}}}

        what = "class probabilities" if self.predict_proba else "the prediction"
        return {
            "get": {
                "summary": f"Predict one sample given in the query string; answers {what}",
                "parameters": [
                    {"name": name, "in": "query", "required": True, "schema": schema}
                    for name, schema in fields.items()
                ]
                + extra,
                "responses": {"200": answer(label, "The prediction for the sample.")},
            },
            "post": {
                "summary": f"Predict a JSON list of samples; answers {what} for each",
                "parameters": extra,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"type": "array", "minItems": 1, "items": sample}
                        }
                    },
                },
                "responses": {
                    "200": answer({"type": "array", "items": label}, "One prediction per sample.")
                },
            },
        }

    # -- answering ---------------------------------------------------------------------------

    def __call__(self, model: Any, request: Request) -> Response:
        """Answer one HTTP request with ``model`` (Palladium's call), on pld's predict path."""
        return PredictPath(self, lambda: model).answer(request)


def _float_values(column: Any) -> Any:
    """The values of a float64 Arrow column without nulls, as numpy arrays over its buffers.

    pyarrow's own ``to_numpy`` imports pandas (half a second) on its first call, which a
    ``pld predict`` that never needs pandas would pay for nothing.
    """
    import numpy
    import pyarrow

    chunks = column.chunks if isinstance(column, pyarrow.ChunkedArray) else [column]
    parts = [
        numpy.frombuffer(chunk.buffers()[1], numpy.float64, len(chunk), chunk.offset * 8)
        for chunk in chunks
        if len(chunk)
    ]
    return parts[0] if len(parts) == 1 else numpy.concatenate(parts)


def _converters(
    items: Sequence[tuple[str, ...]], what: str
) -> list[tuple[str, Callable[[Any], Any]]]:
    converters = []
    for item in items:
        if len(item) != 2:
            raise ValueError(f"each {what} entry must be (name, type), not {item!r}")
        name, type_name = item
        if type_name not in CONVERTERS:
            raise ValueError(
                f"{what} entry {name!r}: unknown type {type_name!r} "
                f"(known: {', '.join(CONVERTERS)})"
            )
        converters.append((name, CONVERTERS[type_name]))
    return converters


@hookimpl
def pld_register_predict_services(register: Any) -> None:
    register("predict-service", PredictService, aliases=["palladium.server.PredictService"])
