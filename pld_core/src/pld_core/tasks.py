"""Tasks: the long jobs (``fit``, a plugin's ``grid-search``) the CLI and HTTP both start.

A :class:`Task` declares its options once. ``pld <task>`` gets its Click options from them,
and a ``url-rule`` naming the task gets an endpoint that reads the same options from the query
string, a form or a JSON body and runs the task as a background job. Both sides check the
values the same way and end in ``task.run(config, **options)``, so whatever the command line
can ask for, an HTTP client can ask for too, under the keyword's name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pld_core.converters import to_bool, to_float, to_int, to_str
from pld_core.errors import PldError

_KINDS = (bool, int, float, str)


class OptionError(PldError):
    """A task option with a bad value or an unknown name (HTTP answers 400)."""

    exit_code = 2


@dataclass(frozen=True)
class Option:
    """One option of a task.

    :param name: the keyword ``run`` receives; also the HTTP parameter's name.
    :param kind: ``bool``, ``int``, ``float`` or ``str``.
    :param default: the value when the option is not given (``None``: not set).
    :param help: one line for ``--help`` and the docs.
    :param flags: the command-line spellings; default ``--name-with-dashes``.
    :param hidden_flags: older spellings still accepted on the command line but not shown by
        ``--help``, so each idea has one visible name (``--persist-if-better-than``).
    :param negates: the flag switches a ``bool`` that defaults to ``True`` off (``--no-save``).
    :param metavar: the placeholder ``--help`` shows for a value.
    :param http: ``False`` for options that only make sense on the caller's machine, such as
        a file to write; HTTP requests naming them are refused.
    :param parse: a stricter converter than the kind's, e.g. :func:`pld_core.to_version`;
        its ``ValueError`` names the value. The command line and HTTP both use it.
    """

    name: str
    kind: type = bool
    default: Any = None
    help: str = ""
    flags: tuple[str, ...] = ()
    hidden_flags: tuple[str, ...] = ()
    negates: bool = False
    metavar: str | None = None
    http: bool = True
    parse: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise TypeError(f"option {self.name!r}: kind must be one of bool, int, float, str")
        if self.negates and (self.kind is not bool or self.default is not True):
            raise TypeError(f"option {self.name!r}: only a bool defaulting to True negates")

    @property
    def cli_flags(self) -> tuple[str, ...]:
        return self.flags or ("--" + self.name.replace("_", "-"),)

    def convert(self, raw: Any) -> Any:
        """``raw`` (a JSON value or the text of a query/form field) as this option's kind."""
        if self.parse is not None:
            try:
                return self.parse(raw)
            except (TypeError, ValueError) as exc:
                raise OptionError(f"{self.name}: {exc}") from None
        try:
            value = _CONVERTERS[self.kind](raw)
        except (TypeError, ValueError):
            expected = "true or false" if self.kind is bool else f"a {_NOUNS[self.kind]}"
            raise OptionError(f"{self.name} must be {expected}, not {raw!r}") from None
        return value


_CONVERTERS: dict[type, Callable[[Any], Any]] = {
    bool: to_bool,
    int: to_int,
    float: to_float,  # finite only: NaN would compare false with every score
    str: to_str,
}
_NOUNS = {int: "whole number", float: "finite number", str: "string"}


@dataclass(frozen=True)
class Task:
    """A job started by ``pld <name>`` and, when a ``url-rule`` names it, over HTTP.

    :param name: the command's name and the name a ``url-rule``'s ``view_func`` uses.
    :param run: ``run(config, **options)``; its result's ``describe()`` (if it has one) is
        the job record's ``info`` under ``/alive``.
    :param options: the options, shared by the command line and HTTP.
    :param help: the command's help text.
    :param report: ``report(result, options, echo)`` prints the result for the command line.
    :param http_decorators: the config decorator list that wraps the HTTP endpoint.
    :param plugin: filled in by pld with the name of the plugin that registered the task.
    """

    name: str
    run: Callable[..., Any]
    options: tuple[Option, ...] = ()
    help: str = ""
    report: Callable[[Any, dict[str, Any], Callable[[str], None]], None] | None = None
    http_decorators: str | None = None
    plugin: str | None = None  # set when collected: the plugin that registered the task

    def defaults(self) -> dict[str, Any]:
        """Every option's default, skipping those that default to "not set"."""
        return {o.name: o.default for o in self.options if o.default is not None}

    def options_from_request(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The options an HTTP request gave (query, form or JSON object), checked and typed.

        Unknown names are refused rather than ignored: a misspelt ``persist_if_better_than``
        must not quietly persist a worse model.
        """
        known = {o.name: o for o in self.options if o.http}
        unknown = sorted(set(values) - set(known))
        if unknown:
            accepted = ", ".join(sorted(known)) or "none"
            raise OptionError(
                f"unknown option(s) for {self.name}: {', '.join(unknown)} (accepted: {accepted})"
            )
        given = {name: known[name].convert(raw) for name, raw in values.items()}
        return {**{k: v for k, v in self.defaults().items() if k in known}, **given}

    def options_from_cli(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The options Click parsed, without those left unset."""
        return {o.name: values[o.name] for o in self.options if values.get(o.name) is not None}


def task_names(tasks: Iterable[str]) -> str:
    """``'fit', 'grid-search'`` for error messages."""
    return ", ".join(repr(name) for name in sorted(tasks)) or "none"
