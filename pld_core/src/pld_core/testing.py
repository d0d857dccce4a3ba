"""Test helpers for pld and its plugins; a pytest plugin (``-p pld_core.testing``).

Fixtures:

* ``pm`` -- a fresh plugin manager with pld_core's defaults and no installed plugins.
* ``register_plugin`` -- ``register_plugin(module_or_object, name=None)`` adds a plugin to
  ``pm`` and returns its name.

:func:`running_server` runs a real server process on 127.0.0.1 (with :func:`free_port`) and
:func:`http_json` talks JSON to it.

:class:`PersisterContract` is the behaviour every model persister promises. Subclass it in
a test module (the subclass name must start with ``Test``) and give it a ``persister``
fixture returning a persister on a fresh, empty store::

    class TestMyPersister(PersisterContract):
        @pytest.fixture
        def persister(self, tmp_path):
            return MyPersister(tmp_path / "store")

        @pytest.fixture
        def reopen(self):
            return lambda persister: MyPersister(persister.location)

The contract also races operations from separate processes (``spawn``): ``activate`` against
``delete`` of the same version, and concurrent ``write`` calls. The worker processes open
the store with the ``open_store`` fixture, by default the test's persister pickled; a
persister that does not pickle needs an ``open_store`` fixture returning a picklable
zero-argument callable that opens the same store. ``PLD_RACE_ROUNDS`` sets the number of
rounds (default 20); :func:`race_activate_delete` runs the race and counts what went wrong.

Importing this module needs pytest but never the data stack.
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import os
import pickle
import queue
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy
import pytest

from pld_core.deferred import DeferredModel, deferred_unpickling
from pld_core.integrity import SIGNING_KEY_VARIABLE, digest_of
from pld_core.interfaces import ModelPersister, ModelStore, annotate
from pld_core.plugins import get_plugin_manager
from pld_core.registry import collect_registry

__all__ = [
    "ContractModel",
    "PersisterContract",
    "RaceReport",
    "ServerActivator",
    "StoreWorkers",
    "component_factory",
    "contract_model",
    "free_port",
    "http_json",
    "make_plugin_manager",
    "race_activate_delete",
    "race_rounds",
    "race_writers",
    "running_server",
]


# -- plugin managers ---------------------------------------------------------------------


def make_plugin_manager(
    plugins: Iterable[Any] = (), *, entrypoints: bool = False
) -> pluggy.PluginManager:
    """A fresh plugin manager holding pld_core's defaults and ``plugins``.

    :param entrypoints: also load the installed plugins (off: tests see only what they add).
    """
    pm = get_plugin_manager(load_entrypoints=entrypoints)
    for plugin in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    return pm


def component_factory(pm: pluggy.PluginManager, name: str) -> Any:
    """What the plugins in ``pm`` registered under ``name`` (a config ``__factory__``)."""
    entry = collect_registry(pm).get(name)
    if entry is None:
        raise LookupError(f"no plugin registered a component named {name!r}")
    return entry.factory


@pytest.fixture
def pm() -> pluggy.PluginManager:
    """A fresh plugin manager with pld_core's defaults and no installed plugins."""
    return make_plugin_manager()


@pytest.fixture
def register_plugin(pm: pluggy.PluginManager) -> Callable[..., str]:
    """``register_plugin(plugin, name=None)``: add ``plugin`` to ``pm``; return its name."""

    def register(plugin: Any, name: str | None = None) -> str:
        registered = pm.register(plugin, name=name)
        if registered is None:
            raise ValueError(f"plugin {plugin!r} is blocked in this plugin manager")
        return registered

    return register


# -- real servers on 127.0.0.1 -------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_json(
    url: str, body: Any = None, *, form: bytes | None = None, timeout: float = 10
) -> tuple[int, Any]:
    """``(status, parsed JSON)`` of a GET, or a POST of ``body`` as JSON or of ``form``.

    Error answers must be JSON too: an HTML error page fails the test here.
    """
    data, headers = form, {}
    if body is not None:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            assert error.headers.get_content_type() == "application/json", error.read()
            return error.code, json.loads(error.read())


@contextlib.contextmanager
def running_server(
    command: Sequence[str],
    port: int,
    *,
    cwd: Any = None,
    env: dict[str, str] | None = None,
    timeout: float = 90,
) -> Iterator[str]:
    """Run a server (``pld serve``, gunicorn...) listening on ``port``; yield its base URL.

    Waits until ``/alive`` answers with any status; stops the process afterwards. If the
    server exits first, the assertion shows its stderr.
    """
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    stderr.seek(0)
                    raise AssertionError(f"{command[0]} exited: {stderr.read()}")
                try:
                    http_json(base + "/alive")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"{command[0]} did not answer in {timeout} s"
                        ) from None
                    time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


# -- a model for persister tests ----------------------------------------------------------


class ContractModel:
    """A tiny picklable model: predicts ``value`` for every sample."""

    def __init__(self, value: int = 0) -> None:
        self.value = value
        self.__metadata__: dict[str, Any] = {}

    def fit(self, X: Any, y: Any = None) -> ContractModel:
        return self

    def predict(self, X: Any) -> list[int]:
        return [self.value for _ in X]

    def __repr__(self) -> str:
        return f"ContractModel({self.value!r})"


def contract_model(value: int = 0, **metadata: Any) -> ContractModel:
    """A fresh :class:`ContractModel` whose ``__metadata__`` holds ``metadata``."""
    model = ContractModel(value)
    annotate(model, metadata)
    return model


# -- races between processes ------------------------------------------------------------------

#: The number of rounds the contract's races run; set it higher to hunt for rare races.
RACE_ROUNDS_VARIABLE = "PLD_RACE_ROUNDS"
_WORKER_TIMEOUT = 120.0  # seconds a worker may take to start or to finish one call

OpenStore = Callable[[], ModelPersister]


def race_rounds(default: int = 20) -> int:
    """The rounds a race runs: ``PLD_RACE_ROUNDS`` if set, else ``default``."""
    raw = os.environ.get(RACE_ROUNDS_VARIABLE, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{RACE_ROUNDS_VARIABLE} must be a positive whole number, not {raw!r}")
    return int(raw)


def _store_worker(
    open_store: OpenStore,
    index: int,
    barrier: Any,
    calls: Any,
    results: Any,
) -> None:
    """A worker process: open the store, then run each call once every worker is ready."""
    try:
        persister = open_store()
        persister.list_properties()  # connect and import now, not in the first race
    except Exception as exc:
        results.put((index, "error", f"opening the store failed: {type(exc).__name__}: {exc}"))
        return
    results.put((index, "ready", None))
    while True:
        call = calls.get()
        if call is None:
            return
        name, args = call
        try:
            barrier.wait(timeout=_WORKER_TIMEOUT)
            value = getattr(persister, name)(*args)
        except LookupError as exc:
            results.put((index, "lookup", str(exc)))
        except Exception as exc:
            results.put((index, "error", f"{type(exc).__name__}: {exc}"))
        else:
            results.put((index, "ok", value))


class StoreWorkers:
    """``count`` processes (``spawn``), each with its own persister on one store.

    :meth:`run` hands each worker one call; a barrier releases them together, so the calls
    really overlap. Use it as a context manager: the processes stop on exit.

    :param open_store: opens the store in a worker; or one such callable per worker (an
        object whose ``activate`` goes through a server's ``/activate``, say).
    """

    def __init__(self, open_store: OpenStore | Sequence[OpenStore], count: int = 2) -> None:
        openers = list(open_store) if isinstance(open_store, Sequence) else [open_store] * count
        if len(openers) != count:
            raise ValueError(f"give one opener per worker ({count}), not {len(openers)}")
        context = multiprocessing.get_context("spawn")
        self.count = count
        self.barrier = context.Barrier(count)
        self.calls = [context.Queue() for _ in range(count)]
        self.results = context.Queue()
        self.processes = [
            context.Process(
                target=_store_worker,
                args=(openers[index], index, self.barrier, self.calls[index], self.results),
                daemon=True,
            )
            for index in range(count)
        ]
        for process in self.processes:
            process.start()
        for _index, status, detail in self._collect(count):
            if status != "ready":
                self.close()
                raise AssertionError(f"a store worker could not start: {detail}")

    def __enter__(self) -> StoreWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, *calls: tuple[str, tuple[Any, ...]]) -> list[tuple[str, Any]]:
        """Run ``calls[i]`` = ``(method, args)`` in worker ``i``, all at once.

        Returns ``(outcome, detail)`` per call, in order: ``("ok", return value)``,
        ``("lookup", message)`` for a ``LookupError``, ``("error", "Type: message")``.
        """
        if len(calls) != self.count:
            raise ValueError(f"give exactly one call per worker ({self.count})")
        for call_queue, call in zip(self.calls, calls, strict=True):
            call_queue.put(call)
        found = {index: (status, detail) for index, status, detail in self._collect(self.count)}
        return [found[index] for index in range(self.count)]

    def _collect(self, count: int) -> list[tuple[int, str, Any]]:
        collected = []
        for _ in range(count):
            try:
                collected.append(self.results.get(timeout=_WORKER_TIMEOUT))
            except queue.Empty:
                codes = [process.exitcode for process in self.processes]
                raise AssertionError(
                    f"store workers did not answer within {_WORKER_TIMEOUT:.0f} s "
                    f"(exit codes {codes})"
                ) from None
        return collected

    def close(self) -> None:
        for call_queue, process in zip(self.calls, self.processes, strict=True):
            if process.is_alive():
                call_queue.put(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)


class ServerActivator:
    """Activates through a running server's ``/activate`` url-rule, for the races.

    A 404 answer is a ``LookupError`` (what a persister raises), any other failure a
    ``RuntimeError`` with the answer; ``list_properties`` reads the server's ``/list``.
    """

    def __init__(self, base_url: str, path: str = "/activate") -> None:
        self.base_url = base_url
        self.path = path

    def activate(self, version: int) -> None:
        form = urllib.parse.urlencode({"model_version": version}).encode()
        status, body = http_json(self.base_url + self.path, form=form, timeout=60)
        if status == 404:
            raise LookupError(body["metadata"]["error_message"])
        if status != 200:
            raise RuntimeError(f"POST {self.path} answered {status}: {body}")

    def list_properties(self) -> dict[str, str]:
        status, body = http_json(self.base_url + "/list", timeout=60)
        if status != 200:
            raise RuntimeError(f"GET /list answered {status}: {body}")
        return dict(body["properties"])


@dataclass
class RaceReport:
    """What the rounds of a race left behind."""

    rounds: int = 0
    #: rounds after which ``active-model`` named a version that no longer exists
    dangling: int = 0
    #: rounds in which ``activate`` came first (and ``delete`` then cleared the pointer)
    activate_first: int = 0
    #: rounds in which ``delete`` came first (and ``activate`` failed with ``LookupError``)
    delete_first: int = 0
    #: everything else that broke the contract, one line per round
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.rounds} rounds: {self.dangling} dangling active pointers, "
            f"{self.activate_first} with activate first, {self.delete_first} with delete first, "
            f"{len(self.problems)} other problems"
        )


def race_activate_delete(
    persister: ModelPersister,
    open_store: OpenStore,
    make_model: Callable[..., Any] = contract_model,
    rounds: int | None = None,
    *,
    open_activator: OpenStore | None = None,
) -> RaceReport:
    """Race ``activate(v)`` against ``delete(v)`` from two processes, ``rounds`` times.

    Each round writes ``v`` through ``persister`` (on odd rounds after activating an older
    version, so a pointer already exists), starts both calls at once, then checks the store:
    the active pointer names an existing version or nothing, ``read()`` works or raises
    ``LookupError``, and the outcome is one of the two serial orders.

    :param open_activator: opens what calls ``activate`` (default: ``open_store``), e.g. a
        client of a server's ``/activate`` that raises ``LookupError`` on a 404.
    """
    rounds = race_rounds() if rounds is None else rounds
    report = RaceReport()
    base = persister.write(make_model())
    with StoreWorkers([open_activator or open_store, open_store], 2) as workers:
        for number in range(rounds):
            if number % 2:
                persister.activate(base)
            before = persister.list_properties().get("active-model")
            version = persister.write(make_model())
            (activated, activate_detail), (deleted, delete_detail) = workers.run(
                ("activate", (version,)), ("delete", (version,))
            )
            report.rounds += 1
            problems = _race_problems(
                persister, version, before, (activated, activate_detail), deleted, delete_detail
            )
            if problems and problems[0] == "dangling":
                report.dangling += 1
                problems = problems[1:]
            elif activated == "ok" and deleted == "ok":
                report.activate_first += 1
            elif activated == "lookup" and deleted == "ok":
                report.delete_first += 1
            report.problems.extend(f"round {number + 1}: {text}" for text in problems)
            if persister.list_properties().get("active-model") not in (None, str(base)):
                persister.activate(base)  # start the next round from a sound store
    return report


def _race_problems(
    persister: ModelPersister,
    version: int,
    before: str | None,
    activate_outcome: tuple[str, Any],
    deleted: str,
    delete_detail: Any,
) -> list[str]:
    activated, activate_detail = activate_outcome
    found: list[str] = []
    versions = {int(entry["version"]) for entry in persister.list_models()}
    active = persister.list_properties().get("active-model")
    if active is not None and int(active) not in versions:
        found.append("dangling")
    if deleted != "ok":
        found.append(f"delete({version}) failed: {delete_detail}")
    if activated not in ("ok", "lookup"):
        found.append(f"activate({version}) failed with more than a LookupError: {activate_detail}")
    if version in versions:
        found.append(f"version {version} still listed after delete({version}) succeeded")
    if activated == "lookup" and active != before:
        found.append(
            f"activate({version}) failed but the pointer changed from {before!r} to {active!r}"
        )
    if activated == "ok" and active is not None and "dangling" not in found:
        found.append(f"activate and delete both succeeded, yet the pointer names {active!r}")
    try:
        model = persister.read()
    except LookupError:
        if active is not None and "dangling" not in found:
            found.append(f"read() raised LookupError though {active!r} is active")
    except Exception as exc:
        found.append(f"read() raised {type(exc).__name__}: {exc}")
    else:
        if active is None:
            found.append("read() returned a model though none is active")
        elif "dangling" in found:
            found.append(f"read() returned a model for the deleted version {active}")
        else:
            read_version = (getattr(model, "__metadata__", None) or {}).get("version")
            if read_version is not None and str(read_version) != active:
                found.append(f"read() returned version {read_version}, not the active {active}")
    return found


def race_writers(
    open_store: OpenStore,
    make_model: Callable[..., Any] = contract_model,
    rounds: int | None = None,
    writers: int = 3,
) -> list[list[tuple[str, Any]]]:
    """``writers`` processes each call ``write`` at once, ``rounds`` times; the outcomes."""
    rounds = race_rounds() if rounds is None else rounds
    with StoreWorkers(open_store, writers) as workers:
        return [
            workers.run(*[("write", (make_model(),)) for _ in range(writers)])
            for _ in range(rounds)
        ]


# -- the persister contract ----------------------------------------------------------------

MISSING = 987654  # a version no test store ever reaches

MakeModel = Callable[..., Any]
Reopen = Callable[[ModelPersister], ModelPersister]


def _tag(model: Any) -> Any:
    return model.__metadata__["contract_tag"]


def _versions(persister: ModelPersister) -> list[int]:
    return [int(entry["version"]) for entry in persister.list_models()]


class PersisterContract:
    """The behaviour every :class:`~pld_core.ModelPersister` promises, as tests.

    Provide ``persister`` (a persister on a fresh, empty store, one per test). Optionally
    override ``make_model`` (``make_model(**metadata)`` returns a fresh picklable model whose
    ``__metadata__`` holds ``metadata``) and ``reopen`` (``reopen(persister)`` returns a new
    instance on the same store; without it the persistence test is skipped).
    """

    @pytest.fixture
    def persister(self) -> ModelPersister:
        raise NotImplementedError(
            f"{type(self).__name__} must define a `persister` fixture returning a persister "
            "on a fresh, empty store"
        )

    @pytest.fixture
    def make_model(self) -> MakeModel:
        return contract_model

    @pytest.fixture
    def reopen(self) -> Reopen:
        def reopen(persister: ModelPersister) -> ModelPersister:
            pytest.skip(
                f"{type(self).__name__} has no `reopen` fixture returning a second persister "
                "instance on the same store"
            )

        return reopen

    @pytest.fixture
    def open_store(self, persister: ModelPersister) -> OpenStore:
        """A picklable callable opening ``persister``'s store in a worker process."""
        try:
            pickled = pickle.dumps(persister)
        except Exception as exc:
            pytest.skip(
                f"{type(self).__name__}: the persister does not pickle ({type(exc).__name__}: "
                f"{exc}); give the class an `open_store` fixture returning a picklable callable "
                "that opens the same store, so the races between processes run"
            )
        return functools.partial(pickle.loads, pickled)

    # -- versions --------------------------------------------------------------------------

    def test_fresh_store_is_empty(self, persister: ModelPersister) -> None:
        assert persister.list_models() == []
        assert "active-model" not in persister.list_properties()

    def test_write_returns_increasing_versions_from_1(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        assert persister.write(make_model()) == 1
        assert persister.write(make_model()) == 2
        assert persister.write(make_model()) == 3

    def test_write_annotates_the_version(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        model = make_model()
        version = persister.write(model)
        assert model.__metadata__["version"] == version

    def test_read_any_version(self, persister: ModelPersister, make_model: MakeModel) -> None:
        first = persister.write(make_model(contract_tag="first"))
        second = persister.write(make_model(contract_tag="second"))
        assert _tag(persister.read(first)) == "first"
        assert _tag(persister.read(second)) == "second"
        assert persister.read(first).__metadata__["version"] == first
        assert persister.read(version=second).__metadata__["version"] == second

    def test_model_state_survives_the_round_trip(self, persister: ModelPersister) -> None:
        version = persister.write(contract_model(42))
        model = persister.read(version)
        assert isinstance(model, ContractModel)
        assert model.predict([1, 2]) == [42, 42]

    # -- integrity: a byte store keeps exactly what pld hands it ---------------------------

    def test_a_byte_store_keeps_bytes_digest_and_signature(
        self, persister: ModelPersister, make_model: MakeModel, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """pld checks digest and signature on every read: a ModelStore hands both back."""
        store = _signing_byte_store(persister, monkeypatch)
        model = make_model(score=0.5)
        version = store.write(model)
        stored = store.read_bytes(version)
        assert stored.version == version
        assert digest_of(bytes(stored.data)) == model.__metadata__["digest"]
        assert stored.metadata["digest"] == model.__metadata__["digest"]
        assert stored.metadata["signature"] == model.__metadata__["signature"]
        assert persister.read(version).__metadata__["version"] == version  # signature checks
        store.activate(version)
        assert store.read_bytes(None).version == version

    def test_a_signed_version_keeps_its_metadata_exactly(
        self, persister: ModelPersister, make_model: MakeModel, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Metadata and attachments come back as written, so their signature holds and a
        version can be served before it is unpickled (``deferred_unpickling``)."""
        _signing_byte_store(persister, monkeypatch)
        model = make_model(score=0.25)
        model.__metadata__["attachments/contract.txt"] = "aGVsbG8="
        version = persister.write(model)
        with deferred_unpickling():
            deferred = persister.read(version)
        assert isinstance(deferred, DeferredModel), "the stored metadata changed on its way"
        assert not deferred.is_loaded
        assert deferred.__metadata__["attachments/contract.txt"] == "aGVsbG8="
        assert deferred.load().__metadata__["version"] == version

    def test_list_properties_are_strings(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        persister.activate(persister.write(make_model()))
        properties = persister.list_properties()
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in properties.items())

    # -- the active model ------------------------------------------------------------------

    def test_new_versions_start_inactive(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        persister.write(make_model())
        persister.write(make_model())
        assert "active-model" not in persister.list_properties()
        with pytest.raises(LookupError):
            persister.read()

    def test_read_without_an_active_model_raises(self, persister: ModelPersister) -> None:
        with pytest.raises(LookupError):
            persister.read()
        with pytest.raises(LookupError):
            persister.read(None)

    def test_activate_switches_the_active_model(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        first = persister.write(make_model(contract_tag="first"))
        second = persister.write(make_model(contract_tag="second"))
        persister.activate(first)
        assert persister.list_properties()["active-model"] == str(first)
        assert _tag(persister.read()) == "first"
        assert _tag(persister.read(None)) == "first"
        persister.activate(second)
        assert persister.list_properties()["active-model"] == str(second)
        assert _tag(persister.read()) == "second"
        assert _tag(persister.read(first)) == "first"

    def test_writing_does_not_change_the_active_model(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        first = persister.write(make_model(contract_tag="first"))
        persister.activate(first)
        persister.write(make_model(contract_tag="second"))
        assert persister.list_properties()["active-model"] == str(first)
        assert _tag(persister.read()) == "first"

    # -- missing versions -----------------------------------------------------------------

    @pytest.mark.parametrize("operation", ["read", "activate", "delete"])
    def test_missing_version_raises_lookup_error_naming_it(
        self, persister: ModelPersister, make_model: MakeModel, operation: str
    ) -> None:
        persister.write(make_model())
        with pytest.raises(LookupError) as excinfo:
            getattr(persister, operation)(MISSING)
        assert str(MISSING) in str(excinfo.value)

    def test_failed_activate_keeps_the_active_model(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        version = persister.write(make_model())
        persister.activate(version)
        with pytest.raises(LookupError):
            persister.activate(MISSING)
        assert persister.list_properties()["active-model"] == str(version)

    # -- delete -----------------------------------------------------------------------------

    def test_delete_removes_the_version(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        first = persister.write(make_model(contract_tag="first"))
        second = persister.write(make_model(contract_tag="second"))
        persister.delete(first)
        assert _versions(persister) == [second]
        with pytest.raises(LookupError) as excinfo:
            persister.read(first)
        assert str(first) in str(excinfo.value)
        with pytest.raises(LookupError):
            persister.delete(first)
        assert _tag(persister.read(second)) == "second"

    def test_versions_are_never_reused(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        persister.write(make_model())
        newest = persister.write(make_model())
        persister.delete(newest)
        assert persister.write(make_model()) == newest + 1
        for version in _versions(persister):
            persister.delete(version)
        assert persister.write(make_model()) == newest + 2

    def test_deleting_the_active_model_clears_the_pointer(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        version = persister.write(make_model())
        other = persister.write(make_model())
        persister.activate(version)
        persister.delete(version)
        assert "active-model" not in persister.list_properties()
        with pytest.raises(LookupError):
            persister.read()
        persister.activate(other)
        assert persister.read().__metadata__["version"] == other

    def test_deleting_another_model_keeps_the_active_one(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        version = persister.write(make_model(contract_tag="kept"))
        other = persister.write(make_model())
        persister.activate(version)
        persister.delete(other)
        assert persister.list_properties()["active-model"] == str(version)
        assert _tag(persister.read()) == "kept"

    # -- metadata ---------------------------------------------------------------------------

    def test_metadata_round_trip(self, persister: ModelPersister, make_model: MakeModel) -> None:
        metadata = {"score_test": 0.9, "feature_names": ["sepal length", "sepal width"]}
        version = persister.write(make_model(**metadata))
        (entry,) = persister.list_models()
        assert entry["version"] == version
        assert {key: entry[key] for key in metadata} == metadata
        read_back = persister.read(version).__metadata__
        assert read_back["version"] == version
        assert {key: read_back[key] for key in metadata} == metadata

    def test_list_models_is_sorted_oldest_first(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        versions = [persister.write(make_model()) for _ in range(4)]
        persister.activate(versions[1])
        persister.delete(versions[2])
        assert _versions(persister) == [versions[0], versions[1], versions[3]]

    def test_upgrade_keeps_the_models(
        self, persister: ModelPersister, make_model: MakeModel
    ) -> None:
        version = persister.write(make_model(contract_tag="kept"))
        persister.activate(version)
        persister.upgrade()
        assert _versions(persister) == [version]
        assert _tag(persister.read()) == "kept"

    # -- persistence ------------------------------------------------------------------------

    def test_a_second_instance_sees_the_same_store(
        self, persister: ModelPersister, make_model: MakeModel, reopen: Reopen
    ) -> None:
        first = persister.write(make_model(contract_tag="first", score_test=0.5))
        persister.activate(first)
        other = reopen(persister)
        assert other is not persister
        assert other.list_models() == persister.list_models()
        assert other.list_properties()["active-model"] == str(first)
        assert _tag(other.read()) == "first"
        second = other.write(make_model(contract_tag="second"))
        assert second > first
        other.activate(second)
        assert _versions(persister) == [first, second]
        assert _tag(persister.read()) == "second"
        persister.delete(second)
        assert "active-model" not in other.list_properties()
        assert other.write(make_model()) > second

    # -- races between processes ------------------------------------------------------------

    def test_activate_racing_delete_leaves_a_sound_store(
        self, persister: ModelPersister, make_model: MakeModel, open_store: OpenStore
    ) -> None:
        """Activate either wins entirely or fails with LookupError; never a dangling pointer."""
        report = race_activate_delete(persister, open_store, make_model)
        assert report.dangling == 0, str(report)
        assert report.problems == [], f"{report}: " + "; ".join(report.problems[:5])

    def test_concurrent_writers_get_distinct_versions(
        self, persister: ModelPersister, make_model: MakeModel, open_store: OpenStore
    ) -> None:
        outcomes = race_writers(open_store, make_model, rounds=max(1, race_rounds() // 4))
        failed = [detail for batch in outcomes for status, detail in batch if status != "ok"]
        assert failed == []
        written = [detail for batch in outcomes for _status, detail in batch]
        assert len(set(written)) == len(written), f"a version was handed out twice: {written}"
        assert sorted(_versions(persister)) == sorted(written)
        for version in written:
            assert persister.read(version).__metadata__["version"] == version


def _signing_byte_store(persister: ModelPersister, monkeypatch: pytest.MonkeyPatch) -> ModelStore:
    """``persister`` as a byte store (else the test is skipped), signing what it writes."""
    if not isinstance(persister, ModelStore):
        pytest.skip(
            f"{type(persister).__name__} is no pld_core.ModelStore: it is handed models, "
            "not bytes (a wrapper's store is tested on its own)"
        )
    monkeypatch.setenv(SIGNING_KEY_VARIABLE, "contract-key")
    return persister
