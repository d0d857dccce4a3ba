"""Task options: one declaration, checked the same way for the command line and for HTTP."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pld_core import Option, OptionError, Task, create_app, hookimpl, load_config, make_cli


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        (bool, True, True),
        (bool, "yes", True),
        (bool, " Off ", False),
        (bool, "0", False),
        (int, 3, 3),
        (int, "12", 12),
        (float, 0.5, 0.5),
        (float, 1, 1.0),
        (float, "0.9", 0.9),
        (str, "results.csv", "results.csv"),
    ],
)
def test_values_are_converted_to_the_option_kind(kind, raw, value):
    converted = Option("x", kind=kind).convert(raw)
    assert converted == value and type(converted) is kind


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        (bool, "maybe", "x must be true or false, not 'maybe'"),
        (bool, 1, "x must be true or false, not 1"),
        (int, "1.5", "x must be a whole number, not '1.5'"),
        (int, True, "x must be a whole number, not True"),
        (int, 2.0, "x must be a whole number, not 2.0"),
        (float, "nan", "x must be a finite number, not 'nan'"),
        (float, float("inf"), "x must be a finite number, not inf"),
        (float, False, "x must be a finite number, not False"),
        (float, [1], "x must be a finite number, not [1]"),
        (str, 5, "x must be a string, not 5"),
    ],
)
def test_bad_values_are_refused_by_name(kind, raw, message):
    with pytest.raises(OptionError) as info:
        Option("x", kind=kind).convert(raw)
    assert str(info.value) == message
    assert info.value.exit_code == 2


def test_declarations_that_cannot_work_are_refused():
    with pytest.raises(TypeError, match="kind must be one of"):
        Option("x", kind=list)
    with pytest.raises(TypeError, match="only a bool defaulting to True negates"):
        Option("x", default=False, negates=True)


def test_a_request_gets_the_defaults_and_only_http_options():
    task = Task(
        "t",
        run=lambda config, **options: options,
        options=(
            Option("flag", default=True, negates=True),
            Option("limit", kind=float),
            Option("out", kind=str, http=False),
        ),
    )
    assert task.options_from_request({}) == {"flag": True}
    assert task.options_from_request({"limit": "2.5", "flag": "no"}) == {
        "flag": False,
        "limit": 2.5,
    }
    with pytest.raises(OptionError, match=r"unknown option\(s\) for t: out, size \(accepted: "):
        task.options_from_request({"out": "x.csv", "size": "3"})


def test_fit_keeps_palladiums_flags_and_offers_the_keyword_spelling(pm, write_config):
    path = write_config("{}")
    fit_options = create_app(load_config(path, plugins=pm)).tasks["fit"].options
    seen = []

    class Spy:
        @hookimpl
        def pld_register_tasks(self, register):
            register(
                Task(
                    "fit-spy",
                    run=lambda config, **options: seen.append(options),
                    options=fit_options,
                )
            )

    pm.register(Spy(), name="spy")
    cli = make_cli(pm)
    runner = CliRunner()

    for args, expected in [
        ([], {"persist": True, "activate": True, "evaluate": False}),
        (["-n", "-e"], {"persist": False, "activate": True, "evaluate": True}),
        (
            ["--no-activate", "--persist-if-better-than", "0.9"],
            {"persist": True, "activate": False, "evaluate": False, "persist_if_better_than": 0.9},
        ),
        (["--save-if-better-than", "1"], {"persist_if_better_than": 1.0}),
    ]:
        result = runner.invoke(cli, ["fit-spy", "-c", path, *args])
        assert result.exit_code == 0, result.output
        assert expected.items() <= seen[-1].items()
    bad = runner.invoke(cli, ["fit-spy", "-c", path, "--save-if-better-than", "high"])
    assert bad.exit_code == 2 and "'high' is not a valid float" in bad.output
