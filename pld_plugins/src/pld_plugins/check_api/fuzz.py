"""The fuzzer behind ``pld check-api``: requests made from a service's own ``/openapi.json``.

schemathesis turns every documented operation into Hypothesis strategies of valid and of
malformed requests; on top of those pld sends what schemas cannot express and attackers try
first: non-finite numbers as JSON text (``NaN``, ``Infinity``, ``1e309``) and in query strings,
JSON nested 100,000 deep, and bodies over the service's size limit. Every answer is checked
for what a client must never see: a 5xx, an answer that is not JSON, an answer the document
does not describe, a body over the limit that was not refused with 413.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as with_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Ok

from pld_plugins.check_api.raw import (
    Answer,
    RawRequest,
    curl_line,
    generated_body_curl,
    send_raw,
)

SERVER_ERROR = "server error (5xx)"
NOT_JSON = "not JSON"
SCHEMA_VIOLATION = "schema violation"
NOT_REFUSED = "body over the limit not refused"
NO_ANSWER = "no answer"
#: The order kinds are listed in.
KINDS = (SERVER_ERROR, NOT_JSON, SCHEMA_VIOLATION, NOT_REFUSED, NO_ANSWER)

#: Non-finite numbers as JSON text (no JSON encoder writes them; parsers may accept them).
NON_FINITE_JSON = ("NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1e999")
#: ... and as query-string values.
NON_FINITE_TEXT = ("nan", "NaN", "inf", "-inf", "Infinity", "-Infinity", "1e309", "-1e999")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CONFORMANCE = [
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]
Operation = APIOperation[Any, Any, Any, Any]
AnyCase = Case[Any]
_SENTINEL = "\x00pld-check-api-non-finite\x00"


class ServiceUnavailable(Exception):
    """Nothing usable answers at the URL: no service, or no OpenAPI document."""


@dataclass(frozen=True)
class FuzzOptions:
    """What ``pld check-api`` was asked for.

    :ivar max_examples: generated requests per operation and kind (valid, malformed,
        non-finite).
    :ivar total: about this many requests in all, shared out instead of ``max_examples``.
    :ivar seed: Hypothesis' seed: the same seed sends the same requests.
    :ivar endpoints: regular expressions; only paths matching one are checked (all if empty).
    :ivar exclude: regular expressions; paths matching one are not checked.
    :ivar malformed_only: send no valid requests (they would start jobs on ``/fit``).
    :ivar max_body_bytes: the service's body limit: a body one byte over must be a 413.
    :ivar nesting: how deep the deeply nested JSON goes.
    """

    max_examples: int = 100
    total: int | None = None
    seed: int = 0
    endpoints: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    malformed_only: bool = False
    max_body_bytes: int = 10 * 2**20
    timeout: float = 30.0
    nesting: int = 100_000


@dataclass(frozen=True)
class Failure:
    """One request whose answer broke a rule; ``kinds`` says which rules."""

    kinds: tuple[str, ...]
    operation: str
    probe: str
    status: int | None
    detail: str
    curl: str


@dataclass
class Report:
    """What a run sent and what came back."""

    base_url: str
    seed: int
    operations: list[str] = field(default_factory=list)
    #: requests sent, by kind (valid, malformed, non-finite number, ...)
    kinds_sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: probe → the operations for which no such request exists (no malformed GET /alive)
    unfit: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(self.kinds_sent.values())

    def by_kind(self) -> dict[str, list[Failure]]:
        """Failing requests by kind, in :data:`KINDS` order (an answer may break several)."""
        found: dict[str, list[Failure]] = {kind: [] for kind in KINDS}
        for failure in self.failures:
            for kind in failure.kinds:
                found.setdefault(kind, []).append(failure)
        return {kind: failures for kind, failures in found.items() if failures}


def load_document(base_url: str, session: requests.Session, timeout: float) -> dict[str, Any]:
    """The service's ``/openapi.json``, or :class:`ServiceUnavailable` saying what is wrong."""
    url = f"{base_url}/openapi.json"
    try:
        answer = session.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise ServiceUnavailable(f"nothing answers at {url}: {type(exc).__name__}") from None
    try:
        document = answer.json()
    except ValueError:
        document = None
    if answer.status_code != 200 or not isinstance(document, dict) or "paths" not in document:
        raise ServiceUnavailable(f"{url} answered {answer.status_code} without an OpenAPI document")
    return document


class Fuzzer:
    """One run against the service at ``base_url``; :meth:`run` returns the :class:`Report`."""

    def __init__(self, base_url: str, options: FuzzOptions) -> None:
        self.base = base_url.rstrip("/")
        self.options = options
        self.session = requests.Session()
        self.report = Report(self.base, options.seed)
        self.examples = options.max_examples

    def run(self) -> Report:
        started = time.monotonic()
        document = load_document(self.base, self.session, self.options.timeout)
        schema = schemathesis.openapi.from_dict(document)
        operations = list(self._operations(schema))
        self.examples = self.options.max_examples
        if self.options.total is not None and operations:
            kinds = 2 if self.options.malformed_only else 3  # (valid,) malformed, non-finite
            # Shared among the operations that take input: one with nothing to vary (GET /)
            # gets its one request whatever the budget.
            varied = sum(1 for operation in operations if _takes_input(operation))
            shares = kinds * (varied or len(operations))
            self.examples = max(1, self.options.total // shares)
        for operation in operations:
            label = f"{operation.method.upper()} {operation.path}"
            self.report.operations.append(label)
            if not self.options.malformed_only:
                self._generated(operation, GenerationMode.POSITIVE)
            self._generated(operation, GenerationMode.NEGATIVE)
            self._non_finite(operation)
            if operation.method.upper() in _BODY_METHODS:
                self._deeply_nested(operation)
                self._over_the_limit(operation)
        self._still_answers()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _operations(self, schema: schemathesis.BaseSchema) -> Iterator[Operation]:
        def wanted(path: str) -> bool:
            chosen = self.options.endpoints
            if chosen and not any(re.search(pattern, path) for pattern in chosen):
                return False
            return not any(re.search(pattern, path) for pattern in self.options.exclude)

        for result in schema.get_all_operations():
            if not isinstance(result, Ok):
                self.report.notes.append(f"not checked: {result.err()}")
                continue
            operation = result.ok()
            if wanted(operation.path):
                yield operation

    # -- the kinds of request ----------------------------------------------------------------

    def _generated(self, operation: Operation, mode: GenerationMode) -> None:
        """Requests schemathesis makes from the document: valid ones or malformed ones."""
        probe = "valid" if mode is GenerationMode.POSITIVE else "malformed"

        @given(case=operation.as_strategy(generation_mode=mode))
        def send(case: AnyCase) -> None:
            kwargs = case.as_transport_kwargs(base_url=self.base)
            self._send(case, requests.Request(**_request_kwargs(kwargs)), probe)

        self._hypothesis(send, operation, probe)

    def _non_finite(self, operation: Operation) -> None:
        """A valid request with one number replaced by NaN, ±Infinity or 1e309 (as text)."""

        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE), data=st.data())
        def send(case: AnyCase, data: st.DataObject) -> None:
            kwargs = _request_kwargs(case.as_transport_kwargs(base_url=self.base))
            spots: list[tuple[str, Any]] = [  # query and form fields: as text
                (part, name)
                for part in ("params", "data")
                if isinstance(kwargs.get(part), dict)
                for name, value in kwargs[part].items()
                if _is_number(value)
            ]
            if "json" in kwargs:  # a JSON body: as JSON text
                spots += [("json", path) for path in _number_paths(kwargs["json"])]
            if not spots:
                return  # nothing numeric in this request
            part, where = data.draw(st.sampled_from(spots))
            if part == "json":
                text = data.draw(st.sampled_from(NON_FINITE_JSON))
                marked = json.dumps(_replace(kwargs.pop("json"), where, _SENTINEL))
                kwargs["data"] = marked.replace(json.dumps(_SENTINEL), text).encode()
            else:
                text = data.draw(st.sampled_from(NON_FINITE_TEXT))
                kwargs[part] = {**kwargs[part], where: text}
            self._send(case, requests.Request(**kwargs), "non-finite number")

        self._hypothesis(send, operation, "non-finite number")

    def _deeply_nested(self, operation: Operation) -> None:
        """JSON arrays and objects nested ``nesting`` deep (within the body limit)."""
        depth = max(1, min(self.options.nesting, (self.options.max_body_bytes - 16) // 6))
        url = self._url(operation)
        headers = {"Content-Type": "application/json"}
        case = operation.Case(media_type="application/json")
        for opening, middle, closing in (("[", "", "]"), ('{"a":', "1", "}")):
            body = (opening * depth + middle + closing * depth).encode()
            expression = f"{opening!r} * {depth} + {middle!r} + {closing!r} * {depth}"
            curl = generated_body_curl(operation.method.upper(), url, headers, expression)
            request = requests.Request(operation.method.upper(), url, headers, data=body)
            self._send(case, request, "deeply nested JSON", curl)

    def _over_the_limit(self, operation: Operation) -> None:
        """A valid JSON body padded with spaces to one byte over the limit, sent twice.

        With a ``Content-Length`` the service knows the size before reading: it must answer
        413. Chunked, it learns it only by reading, and an endpoint that never reads a JSON
        body may refuse the request for another reason first: any 4xx will do, but never an
        answer to the body's first ``max_body_bytes`` bytes as if that were all of it.
        """
        probe = "body over the limit"

        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def send(case: AnyCase) -> None:
            kwargs = case.as_transport_kwargs(base_url=self.base)
            start = json.dumps(kwargs["json"]).encode() if "json" in kwargs else b"{}"
            size = max(self.options.max_body_bytes + 1, len(start))
            for chunked in (False, True):
                raw = RawRequest(case.method.upper(), self._url(operation), start, size, chunked)
                self.report.kinds_sent[probe] += 1
                try:
                    answer = send_raw(raw, self.options.timeout)
                except OSError as exc:
                    self._fail((NO_ANSWER,), case, probe, None, repr(exc), raw.curl())
                    continue
                self.report.statuses[answer.status] += 1
                kinds = self._problems(case, answer)
                if answer.status != 413 and not (chunked and 400 <= answer.status < 500):
                    kinds.append(NOT_REFUSED)
                if kinds:
                    framing = "chunked" if chunked else "with its Content-Length"
                    detail = f"a {size}-byte body, {framing}: {answer.summary()}"
                    self._fail(tuple(kinds), case, probe, answer.status, detail, raw.curl())

        self._hypothesis(send, operation, probe, examples=1)

    def _still_answers(self) -> None:
        """After everything, the document is served again: the service is still up."""
        self.report.kinds_sent["after the run"] += 1
        try:
            load_document(self.base, self.session, self.options.timeout)
        except ServiceUnavailable as exc:
            failure = Failure(
                (NO_ANSWER,), "GET /openapi.json", "after the run", None, str(exc), ""
            )
            self.report.failures.append(failure)

    # -- sending and checking ----------------------------------------------------------------

    def _hypothesis(
        self, test: Callable[[], None], operation: Operation, probe: str, examples: int = 0
    ) -> None:
        """Run ``test`` for ``examples`` generated requests (default: as configured)."""
        run = settings(
            max_examples=examples or self.examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            print_blob=False,
        )(test)
        try:
            with_seed(self.options.seed)(run)()
        except Unsatisfiable:  # no request of this kind fits, e.g. no malformed GET /alive
            label = f"{operation.method.upper()} {operation.path}"
            self.report.unfit.setdefault(probe, []).append(label)

    def _send(
        self, case: AnyCase, request: requests.Request, probe: str, curl: str | None = None
    ) -> None:
        prepared = self.session.prepare_request(request)
        curl = curl or curl_line(prepared)
        self.report.kinds_sent[probe] += 1
        try:
            response = self.session.send(prepared, timeout=self.options.timeout)
        except requests.RequestException as exc:
            self._fail((NO_ANSWER,), case, probe, None, f"{type(exc).__name__}: {exc}", curl)
            return
        answer = Answer.from_response(response)
        self.report.statuses[answer.status] += 1
        kinds = self._problems(case, answer)
        if kinds:
            self._fail(tuple(kinds), case, probe, answer.status, answer.summary(), curl)

    def _problems(self, case: AnyCase, answer: Answer) -> list[str]:
        """The rules ``answer`` breaks: 5xx, not JSON, not as documented."""
        kinds = []
        if answer.status >= 500:
            kinds.append(SERVER_ERROR)
        if not answer.is_json():
            if answer.status < 400 and _documented_media_type(case, answer):
                return kinds  # e.g. the service page's HTML, as /openapi.json says
            kinds.append(NOT_JSON)
            return kinds  # the schema check would only say the same again
        try:
            case.validate_response(answer.as_schemathesis(), checks=_CONFORMANCE)
        except AssertionError:  # schemathesis' Failure or FailureGroup
            kinds.append(SCHEMA_VIOLATION)
        return kinds

    def _fail(
        self,
        kinds: tuple[str, ...],
        case: AnyCase,
        probe: str,
        status: int | None,
        detail: str,
        curl: str,
    ) -> None:
        label = f"{case.operation.method.upper()} {case.operation.path}"
        self.report.failures.append(Failure(kinds, label, probe, status, detail, curl))

    def _url(self, operation: Operation) -> str:
        return self.base + operation.path


def fuzz(base_url: str, options: FuzzOptions) -> Report:
    """Check the service at ``base_url``; :class:`ServiceUnavailable` if there is none."""
    return Fuzzer(base_url, options).run()


# -- helpers -------------------------------------------------------------------------------


def _takes_input(operation: Operation) -> bool:
    """Whether requests to ``operation`` can differ: it has parameters or a body."""
    return bool(list(operation.iter_parameters())) or bool(list(operation.body))


def _documented_media_type(case: AnyCase, answer: Answer) -> bool:
    """Whether the operation documents ``answer``'s non-JSON content type for its status."""
    raw = getattr(case.operation.definition, "raw", None) or {}
    documented = (raw.get("responses") or {}).get(str(answer.status)) or {}
    media = answer.content_type()
    return media != "application/json" and media in (documented.get("content") or {})


_KWARGS = {"method", "url", "headers", "params", "cookies", "json", "data", "files"}


def _request_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """schemathesis' transport arguments that make a :class:`requests.Request`."""
    return {name: value for name, value in kwargs.items() if name in _KWARGS}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where the numbers are in a JSON value (as key/index paths)."""
    if _is_number(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _number_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _number_paths(item, (*path, index))


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``value`` with ``new`` at ``path``."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    return [_replace(item, rest, new) if i == head else item for i, item in enumerate(value)]
