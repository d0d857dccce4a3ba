"""Read Palladium-style config files and build the components they describe.

A config file holds one Python dict expression, evaluated with ``environ`` and ``here`` in
scope. **Config files are trusted code**: treat them like the Python modules of your project.

Steps: find the files (``--config``, ``PLD_CONFIG``, ``PALLADIUM_CONFIG``, default names) →
evaluate each → resolve ``__copy__`` and merge (later files win per top-level key) → run a
``__python__`` entry → apply the ``logging`` dictConfig → build every ``__factory__`` / ``!``
component, children first → call ``initialize_component``. Every failure is a
:class:`ConfigError` naming the file and the key path.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import logging
import logging.config
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

import pluggy

from pld_core.errors import ConfigError, PldError
from pld_core.factories import resolve_name
from pld_core.plugins import get_plugin_manager
from pld_core.registry import Registry, collect_registry

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

__all__ = [
    "CONFIG_ENV_VARS",
    "Config",
    "find_config_files",
    "get_config",
    "initialize_config",
    "load_config",
    "use_config",
]

CONFIG_ENV_VARS = ("PLD_CONFIG", "PALLADIUM_CONFIG")
DEFAULT_CONFIG_FILES = (
    "pld-config.py",
    "etc/pld-config.py",
    "palladium-config.py",
    "etc/palladium-config.py",
)
FACTORY_KEYS = ("__factory__", "!")
COPY_KEY = "__copy__"
DEFAULT_KEY = "__default__"
MODE_KEY = "__mode__"
PYTHON_KEY = "__python__"

logger = logging.getLogger(__name__)


class Config(dict[str, Any]):
    """The built configuration: top-level entry name → component or plain value.

    A missing entry raises :class:`ConfigError` (not ``KeyError``) naming the files read.
    A config loaded with ``lazy=True`` builds an entry that makes components when it is first
    used (looked up, tested with ``in``, iterated over), so a command builds only what it
    needs and imports only the libraries those components need.
    """

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        *,
        files: Sequence[str] = (),
        plugins: pluggy.PluginManager | None = None,
        registry: Registry | None = None,
        origin: dict[str, str] | None = None,
    ):
        super().__init__(data or {})
        self.files = tuple(files)
        self.plugins = plugins
        self.registry = registry
        self.origin = dict(origin or {})
        self._pending: dict[str, Any] = {}
        self._order: list[str] = []
        self._builder: _Builder | None = None
        self._building: set[str] = set()

    def error(self, message: str, key: str) -> ConfigError:
        """A :class:`ConfigError` about entry ``key``, naming the file that defined it."""
        path = _file_of(self.origin, key) or (", ".join(self.files) if self.files else None)
        return ConfigError(message, path=path, key=key)

    def __missing__(self, key: str) -> Any:
        if key in self._pending:
            return self._build(key)
        files = ", ".join(self.files) if self.files else None
        hint = "" if self.files else "; set PLD_CONFIG or pass --config"
        raise ConfigError(f"the configuration has no {key!r} entry{hint}", path=files)

    def require(self, key: str, why: str) -> Any:
        """Entry ``key``, or a :class:`ConfigError` saying ``why`` it is needed."""
        if key not in self:
            files = ", ".join(self.files) if self.files else None
            raise ConfigError(f"the configuration has no {key!r} entry; {why}", path=files)
        return self[key]

    @property
    def mode(self) -> str | None:
        """``'fit'`` for offline commands, ``None`` when serving."""
        return self.get(MODE_KEY)

    # -- building entries on first use (lazy configs) -----------------------------------------

    def _defer(self, pending: dict[str, Any], order: list[str], builder: _Builder) -> None:
        self._pending, self._order, self._builder = pending, order, builder

    def _build(self, key: str) -> Any:
        """Build pending entry ``key`` and initialise the components it made."""
        with _lock:
            if key not in self._pending:
                return dict.__getitem__(self, key)
            if key in self._building:
                raise self.error("building this entry needs the entry itself", key)
            assert self._builder is not None
            start = len(self._builder.built)
            self._building.add(key)
            try:
                value = self._builder.build_entry(self._pending[key], key)
            finally:
                self._building.discard(key)
            del self._pending[key]
            dict.__setitem__(self, key, value)
            with _provisional(self):
                for component in self._builder.built[start:]:
                    _initialize(component, self)
            return value

    def build_all(self) -> None:
        """Build every pending entry, keeping the order of the files."""
        if not self._pending:
            return
        with _lock:
            for key in list(self._pending):
                self._build(key)
            known = set(self._order)
            ordered = [
                (k, dict.__getitem__(self, k)) for k in self._order if dict.__contains__(self, k)
            ]
            rest = [(k, v) for k, v in dict.items(self) if k not in known]
            dict.clear(self)
            dict.update(self, ordered + rest)

    @overload
    def get(self, key: str, default: None = None, /) -> Any | None: ...
    @overload
    def get(self, key: str, default: Any, /) -> Any: ...
    def get(self, key: str, default: Any = None, /) -> Any:
        if key in self._pending:
            self._build(key)
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self._pending

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._pending)

    def __iter__(self) -> Iterator[str]:
        self.build_all()
        return dict.__iter__(self)

    def keys(self) -> dict_keys[str, Any]:
        self.build_all()
        return dict.keys(self)

    def values(self) -> dict_values[str, Any]:
        self.build_all()
        return dict.values(self)

    def items(self) -> dict_items[str, Any]:
        self.build_all()
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        self.build_all()
        return dict.copy(self)

    def __setitem__(self, key: str, value: Any) -> None:
        self._pending.pop(key, None)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        if self._pending.pop(key, _NOTHING) is not _NOTHING and not dict.__contains__(self, key):
            return
        dict.__delitem__(self, key)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self._pending:
            self._build(key)
        return dict.pop(self, key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key in self._pending:
            self._build(key)
        return dict.setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


_NOTHING = object()


# -- finding and reading files ---------------------------------------------------------------


def find_config_files(explicit: str | None = None) -> list[str]:
    """Return the config file names: ``explicit``, else the environment, else default names."""
    value = explicit
    if not value:
        value = next((os.environ[v] for v in CONFIG_ENV_VARS if os.environ.get(v)), None)
    if value:
        return [name.strip() for name in value.split(",") if name.strip()]
    for candidate in DEFAULT_CONFIG_FILES:
        if os.path.isfile(candidate):
            return [candidate]
    raise ConfigError(
        "no configuration given: set PLD_CONFIG or pass --config FILE (also read: "
        f"${CONFIG_ENV_VARS[1]}, then the first of {', '.join(DEFAULT_CONFIG_FILES)} "
        "in this folder)"
    )


class MissingVariable(KeyError):
    """A config file read an environment variable that is not set."""


class _Environment(Mapping[str, str]):
    """``os.environ`` for config files, with a missing variable told apart from other KeyErrors."""

    def __getitem__(self, name: str) -> str:
        try:
            return os.environ[name]
        except KeyError:
            raise MissingVariable(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)


def read_config_file(path: str) -> dict[str, Any]:
    """Evaluate one config file and return its dict; put its folder on ``sys.path``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise ConfigError("config file not found", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror}", path=path) from None
    try:
        source = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            path=path,
        ) from None
    here = os.path.dirname(os.path.abspath(path))
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        code = compile(source, path, "eval")
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte, on some Pythons
        lineno = getattr(exc, "lineno", None)
        at = f"line {lineno}: " if lineno else ""
        problem = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise ConfigError(
            f"{at}syntax error: {problem} (a config file is one Python dict)", path=path
        ) from None
    try:
        value = eval(code, {"environ": _Environment(), "here": here})  # noqa: S307 -- trusted
    except MissingVariable as exc:
        raise ConfigError(f"environment variable {exc.args[0]} is not set", path=path) from None
    except SystemExit as exc:
        raise ConfigError(f"evaluating failed: {_exit_call(exc)}", path=path) from None
    except RecursionError:
        raise ConfigError("evaluating failed: it nests or recurses too deep", path=path) from None
    except Exception as exc:
        raise ConfigError(f"evaluating failed: {type(exc).__name__}: {exc}", path=path) from None
    if not isinstance(value, dict):
        raise ConfigError(f"must hold one dict, not a {type(value).__name__}", path=path)
    return value


def _exit_call(exc: SystemExit) -> str:
    """Config code that exits would end the command silently, often with status 0: say so."""
    return f"it called sys.exit({exc.code!r}); config code must return, not exit"


# -- __copy__ and merging --------------------------------------------------------------------


def merge_configs(
    configs: Iterable[tuple[str, dict[str, Any]]],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge raw configs in order, resolving ``__copy__``; return the tree and key → file."""
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for path, raw in configs:
        resolver = _CopyResolver(current=raw, previous=merged, path=path)
        resolved = {}
        for key, value in raw.items():
            try:
                resolved[key] = resolver.resolve(value, (str(key),))
            except RecursionError:  # nesting no config needs; say where instead of crashing
                raise ConfigError("nests too deep to resolve", path=path, key=str(key)) from None
        merged.update(resolved)
        origin.update(dict.fromkeys(raw, path))
    return merged, origin


#: How many ``__copy__`` may nest (a copy of an entry that copies ...); deeper is an error.
MAX_COPY_DEPTH = 100


class _CopyResolver:
    """Resolves ``__copy__`` in one file against that file and the files before it.

    ``active`` holds the paths of the nodes whose copy is being resolved: copying an entry
    that contains one of them (or is one) would never end, so it is a loop.
    """

    def __init__(self, current: dict[str, Any], previous: dict[str, Any], path: str):
        self.current = current
        self.previous = previous
        self.path = path
        self.active: list[tuple[str | int, ...]] = []

    def resolve(self, node: Any, where: tuple[str | int, ...]) -> Any:
        if isinstance(node, dict):
            children = {
                k: self.resolve(v, (*where, str(k)))
                for k, v in node.items()
                if k not in (COPY_KEY, DEFAULT_KEY)
            }
            if COPY_KEY not in node:
                if DEFAULT_KEY in node:
                    children[DEFAULT_KEY] = node[DEFAULT_KEY]
                return children
            copied = self._copy(node, where)
            if not children:
                return copied
            if not isinstance(copied, dict):
                raise ConfigError(
                    f"__copy__ of {node[COPY_KEY]!r} copies a {type(copied).__name__}, "
                    "which cannot take override keys",
                    path=self.path,
                    key=_key(where),
                )
            return {**copied, **children}
        if isinstance(node, list):
            return [self.resolve(v, (*where, i)) for i, v in enumerate(node)]
        if isinstance(node, tuple):
            return tuple(self.resolve(v, (*where, i)) for i, v in enumerate(node))
        return node

    def _copy(self, node: dict[str, Any], where: tuple[str | int, ...]) -> Any:
        target = node[COPY_KEY]
        key = _key(where)
        if not isinstance(target, str):
            raise ConfigError("__copy__ must name an entry, e.g. 'model'", path=self.path, key=key)
        parts = tuple(target.split("."))
        for source in (self.current, self.previous):
            try:
                found = _lookup(source, target)
            except LookupError:
                continue
            if found is node:  # an entry patching itself: copy from the earlier files
                continue
            if source is self.current:
                inside = (tuple(map(str, path[: len(parts)])) for path in (*self.active, where))
                if parts in inside:
                    raise ConfigError(f"__copy__ of {target!r} loops", path=self.path, key=key)
                if len(self.active) >= MAX_COPY_DEPTH:
                    first = _key(self.active[0])
                    raise ConfigError(
                        f"__copy__ of {target!r} nests more than {MAX_COPY_DEPTH} copies deep "
                        f"(a chain of copies that starts at {first!r})",
                        path=self.path,
                        key=key,
                    )
            self.active.append(where)
            try:
                resolved = self.resolve(found, parts)
                return copy.deepcopy(resolved)
            finally:
                self.active.pop()
        if DEFAULT_KEY in node:
            return node[DEFAULT_KEY]
        raise ConfigError(
            f"__copy__ names {target!r}, which is not in the configuration", path=self.path, key=key
        )


def _key(where: tuple[str | int, ...]) -> str:
    """A node's path as the key the messages name: ``('a', 'b', 0)`` → ``a.b[0]``."""
    key = ""
    for part in where:
        key = f"{key}[{part}]" if isinstance(part, int) else _join(key, part)
    return key


def _lookup(tree: Any, dotted: str) -> Any:
    node = tree
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list | tuple) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise LookupError(dotted)
    return node


def _file_of(origin: dict[str, str], key: str) -> str | None:
    """The file that defined the top-level entry of key path ``key`` (``a.b[0]`` → ``a``)."""
    return origin.get(key.split(".")[0].split("[")[0])


def _join(key: str, child: Any) -> str:
    return f"{key}.{child}" if key else str(child)


# -- building components ---------------------------------------------------------------------


class _Builder:
    """Builds components children-first and remembers them for ``initialize_component``."""

    def __init__(self, registry: Registry, origin: dict[str, str]):
        self.registry = registry
        self.origin = origin
        self.built: list[Any] = []

    def build_entry(self, node: Any, key: str) -> Any:
        """Build top-level entry ``key``; nesting too deep for Python is a config error."""
        try:
            return self.build(node, key, key)
        except RecursionError:
            raise self._error("nests too deep to build", key) from None

    def build(self, node: Any, key: str, name: str) -> Any:
        if isinstance(node, dict):
            children = {k: self.build(v, _join(key, k), str(k)) for k, v in node.items()}
            factory_keys = [k for k in FACTORY_KEYS if k in children]
            if not factory_keys:
                return children
            if len(factory_keys) > 1:
                raise self._error("use either '__factory__' or '!', not both", key)
            factory_name = children.pop(factory_keys[0])
            return self._make(factory_name, children, key, name)
        if isinstance(node, list):
            return [self.build(v, f"{key}[{i}]", str(i)) for i, v in enumerate(node)]
        if isinstance(node, tuple):
            return tuple(self.build(v, f"{key}[{i}]", str(i)) for i, v in enumerate(node))
        return node

    def _make(self, factory_name: Any, kwargs: dict[str, Any], key: str, name: str) -> Any:
        if not isinstance(factory_name, str):
            if callable(factory_name):
                factory, label = factory_name, getattr(factory_name, "__name__", "factory")
            else:
                raise self._error("'__factory__' must be a name or a callable", key)
        else:
            label = factory_name
            try:
                factory = resolve_name(factory_name, self.registry)
            except PldError as exc:
                raise self._error(str(exc), key) from None
        try:
            signature = inspect.signature(factory)
        except (TypeError, ValueError):
            signature = None
        if signature is not None:
            try:
                signature.bind(**kwargs)
            except TypeError as exc:
                raise self._error(f"bad arguments for {label}: {exc}", key) from None
        try:
            component = factory(**kwargs)
        except PldError as exc:
            raise self._error(f"{label}: {exc}", key) from None
        except SystemExit as exc:
            raise self._error(f"building {label} failed: {_exit_call(exc)}", key) from None
        except Exception as exc:
            raise self._error(
                f"building {label} failed: {type(exc).__name__}: {exc}", key
            ) from None
        with contextlib.suppress(AttributeError, TypeError):  # e.g. builtins, slotted classes
            component.__pld_config_key__ = name
        self.built.append(component)
        return component

    def _error(self, message: str, key: str) -> ConfigError:
        return ConfigError(message, path=_file_of(self.origin, key), key=key)


def build_config(
    configs: Sequence[tuple[str, dict[str, Any]]],
    *,
    plugins: pluggy.PluginManager,
    extra: dict[str, Any] | None = None,
    lazy: bool = False,
) -> Config:
    """Merge raw configs, build their components and return the :class:`Config`.

    With ``lazy`` an entry that makes components is built when first used.
    """
    registry = collect_registry(plugins)
    tree, origin = merge_configs([("<extra>", dict(extra or {})), *configs])
    run_python_entry(tree, origin.get(PYTHON_KEY))
    _configure_logging(tree.get("logging"), origin.get("logging"))
    builder = _Builder(registry, origin)
    pending = {key: value for key, value in tree.items() if lazy and _makes_components(value)}
    built = {
        key: builder.build_entry(value, key) for key, value in tree.items() if key not in pending
    }
    files = [path for path, _ in configs]
    config = Config(built, files=files, plugins=plugins, registry=registry, origin=origin)
    config._defer(pending, list(tree), builder)
    with _provisional(config):
        for component in list(builder.built):
            _initialize(component, config)
    return config


def _makes_components(node: Any) -> bool:
    """Whether building ``node`` calls a factory (plain values are built at once)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if any(key in item for key in FACTORY_KEYS):
                return True
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def run_python_entry(tree: dict[str, Any], path: str | None) -> None:
    """Palladium's ``__python__`` entry: statements that edit the merged config in place.

    They run after all files are merged and copies resolved, before any component is built,
    with the merged dict as ``C``, ``cfg`` and ``config`` (Palladium's names) and the file's
    ``environ`` and ``here``. The entry itself is removed.
    """
    code = tree.pop(PYTHON_KEY, None)
    if code is None:
        return
    if not isinstance(code, str):
        raise ConfigError("must be a string of Python statements", path=path, key=PYTHON_KEY)
    _factory_to_bang(tree)  # Palladium spells every factory '!' before the code runs
    here = os.path.dirname(os.path.abspath(path)) if path and path != "<extra>" else os.getcwd()
    namespace = {"C": tree, "cfg": tree, "config": tree, "environ": _Environment(), "here": here}
    try:
        compiled = compile(code, f"{path or '<config>'}:{PYTHON_KEY}", "exec")
    except SyntaxError as exc:
        raise ConfigError(
            f"line {exc.lineno}: syntax error: {exc.msg}", path=path, key=PYTHON_KEY
        ) from None
    try:
        exec(compiled, namespace)  # noqa: S102 -- the config is trusted code, like the file
    except MissingVariable as exc:
        raise ConfigError(
            f"environment variable {exc.args[0]} is not set", path=path, key=PYTHON_KEY
        ) from None
    except SystemExit as exc:
        raise ConfigError(f"running failed: {_exit_call(exc)}", path=path, key=PYTHON_KEY) from None
    except Exception as exc:
        raise ConfigError(
            f"running failed: {type(exc).__name__}: {exc}", path=path, key=PYTHON_KEY
        ) from None


def _factory_to_bang(node: Any) -> None:
    """Rename ``__factory__`` to ``!`` in place, as Palladium 1.2.3 does before ``__python__``:
    code that sets ``C['model']['!']`` then replaces the factory a file wrote as ``__factory__``."""
    if isinstance(node, dict):
        if FACTORY_KEYS[0] in node and FACTORY_KEYS[1] not in node:
            node[FACTORY_KEYS[1]] = node.pop(FACTORY_KEYS[0])
        children: Iterable[Any] = node.values()
    elif isinstance(node, list | tuple):
        children = node
    else:
        return
    for child in children:
        _factory_to_bang(child)


def _initialize(component: Any, config: Config) -> None:
    initialize = getattr(component, "initialize_component", None)
    if not callable(initialize):
        return
    try:
        initialize(config)
    except PldError:
        raise
    except (Exception, SystemExit) as exc:
        key = getattr(component, "__pld_config_key__", None) or type(component).__name__
        where = config.origin.get(str(key))
        problem = _exit_call(exc) if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
        raise PldError(
            f"{where + ': ' if where else ''}{key}: initializing failed: {problem}"
        ) from (None if isinstance(exc, SystemExit) else exc)


def _configure_logging(settings: Any, path: str | None) -> None:
    """Apply the ``logging`` entry before components are built, so their messages show."""
    if settings is not None:
        try:
            logging.config.dictConfig(settings)
        except (ValueError, TypeError, AttributeError, ImportError) as exc:
            raise ConfigError(f"invalid dictConfig: {exc}", path=path, key="logging") from None
    elif not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def load_config(
    paths: str | Sequence[str] | None = None,
    *,
    plugins: pluggy.PluginManager | None = None,
    lazy: bool = False,
    **extra: Any,
) -> Config:
    """Find, read and build a configuration.

    :param paths: comma-separated file names or a list; ``None`` looks in the environment.
    :param plugins: the plugin manager; a fresh one is built when omitted.
    :param lazy: build each entry that makes components on first use (commands do, so
        ``pld list`` never builds, nor imports, the model).
    :param extra: extra top-level entries, such as ``__mode__='fit'``.
    """
    if plugins is None:
        plugins = get_plugin_manager()
    single = paths is None or isinstance(paths, str)
    files = find_config_files(paths) if single else list(paths)  # type: ignore[arg-type]
    raw = [(path, read_config_file(path)) for path in files]
    return build_config(raw, plugins=plugins, extra=extra, lazy=lazy)


# -- the process-wide config, for interactive use and for components that need it ----------

_lock = threading.RLock()
_current: Config | None = None


@contextlib.contextmanager
def _provisional(config: Config) -> Iterator[None]:
    """While components initialise, ``get_config()`` returns the config being built."""
    global _current
    with _lock:
        previous = _current
        if previous is None:
            _current = config
        try:
            yield
        finally:
            if previous is None:
                _current = None


def use_config(config: Config | None) -> None:
    """Make ``config`` what :func:`get_config` returns (``None`` forgets it)."""
    global _current
    with _lock:
        _current = config


def get_config(**extra: Any) -> Config:
    """Return the process's config, loading it from the environment on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = load_config(**extra)
        return _current


def initialize_config(**extra: Any) -> Config:
    """Load the process's config from the environment, e.g. ``initialize_config(__mode__='fit')``.

    :raises RuntimeError: the config was already initialized in this process.
    """
    with _lock:
        if _current is not None:
            raise RuntimeError("Configuration was already initialized")
        return get_config(**extra)
