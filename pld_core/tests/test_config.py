"""The config loader: files, merging, __copy__, components, errors, and the process config."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from pld_core import ConfigError, get_config, hookimpl, initialize_config, load_config
from pld_core.config import find_config_files, merge_configs


def test_one_file_builds_registered_components(pm, write_config):
    path = write_config("{'loader': {'!': 'list-loader', 'rows': 3}, 'n': 1}")
    config = load_config(path, plugins=pm)
    assert type(config["loader"]).__name__ == "ListLoader"
    assert config["loader"].rows == 3
    assert config["n"] == 1
    assert config.files == (path,)


def test_factory_spellings_and_palladium_alias_and_dotted_path(pm, write_config):
    path = write_config(
        "{'a': {'__factory__': 'list-loader'},"
        " 'b': {'!': 'palladium.dataset.ListLoader'},"
        " 'c': {'!': 'collections.OrderedDict', 'x': 1}}"
    )
    config = load_config(path, plugins=pm)
    assert type(config["a"]).__name__ == type(config["b"]).__name__ == "ListLoader"
    assert dict(config["c"]) == {"x": 1}


def test_colon_dotted_path_walks_attributes(pm, write_config):
    path = write_config("{'j': {'!': 'json:JSONDecoder'}}")
    import json

    assert isinstance(load_config(path, plugins=pm)["j"], json.JSONDecoder)


def test_components_nested_in_dicts_lists_and_tuples_are_built_children_first(pm, write_config):
    path = write_config(
        "{'outer': {'!': 'collections.OrderedDict',"
        "  'inner': {'!': 'list-loader', 'rows': 2},"
        "  'many': [{'!': 'list-loader'}, ['x', {'!': 'threshold', 'threshold': 1.0}]],"
        "  'pair': ({'!': 'list-loader'}, 7)}}"
    )
    outer = load_config(path, plugins=pm)["outer"]
    assert outer["inner"].rows == 2
    assert type(outer["many"][0]).__name__ == "ListLoader"
    assert outer["many"][1][1].threshold == 1.0
    assert isinstance(outer["pair"], tuple) and outer["pair"][1] == 7
    assert type(outer["pair"][0]).__name__ == "ListLoader"


def test_config_key_is_set_on_components(pm, write_config):
    path = write_config("{'train': {'!': 'list-loader'}, 'lst': [{'!': 'list-loader'}]}")
    config = load_config(path, plugins=pm)
    assert config["train"].__pld_config_key__ == "train"
    assert config["lst"][0].__pld_config_key__ == "0"


def test_environ_and_here_are_in_scope(pm, write_config, monkeypatch, tmp_path):
    monkeypatch.setenv("PLD_TEST_VALUE", "from-env")
    path = write_config("{'value': environ['PLD_TEST_VALUE'], 'dir': here}")
    config = load_config(path, plugins=pm)
    assert config["value"] == "from-env"
    assert config["dir"] == str(tmp_path)


def test_missing_environment_variable_is_a_config_error(pm, write_config, monkeypatch):
    monkeypatch.delenv("PLD_NOT_SET", raising=False)
    path = write_config("{'value': environ['PLD_NOT_SET']}")
    with pytest.raises(ConfigError, match="environment variable PLD_NOT_SET is not set"):
        load_config(path, plugins=pm)


def test_config_folder_goes_on_sys_path_for_local_modules(pm, write_config, tmp_path):
    (tmp_path / "localfactories.py").write_text("def make(x):\n    return ('made', x)\n")
    path = write_config("{'thing': {'!': 'localfactories.make', 'x': 3}}")
    try:
        assert load_config(path, plugins=pm)["thing"] == ("made", 3)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("localfactories", None)


def test_several_files_later_wins_per_top_level_key(pm, write_config):
    first = write_config("{'a': 42, 'b': 6, 'd': {'x': 1, 'y': 2}}", "first.py")
    second = write_config("{'b': 7, 'c': 99, 'd': {'x': 5}}", "second.py")
    config = load_config(f"{first}, {second}", plugins=pm)
    assert {k: config[k] for k in "abcd"} == {"a": 42, "b": 7, "c": 99, "d": {"x": 5}}


def test_copy_with_overrides_makes_a_separate_component(pm, write_config):
    path = write_config(
        "{'train': {'!': 'list-loader', 'rows': 10}, 'test': {'__copy__': 'train', 'offset': 3}}"
    )
    config = load_config(path, plugins=pm)
    assert (config["test"].rows, config["test"].offset) == (10, 3)
    assert config["train"].offset == 0
    assert config["test"] is not config["train"]


def test_copy_of_dotted_path_and_constants(pm, write_config):
    path = write_config(
        "{'grid': {'param_grid': {'C': [1, 2]}},"
        " 'other': {'__copy__': 'grid.param_grid'},"
        " 'first_c': {'__copy__': 'grid.param_grid.C.0'}}"
    )
    config = load_config(path, plugins=pm)
    assert config["other"] == {"C": [1, 2]}
    assert config["other"] is not config["grid"]["param_grid"]
    assert config["first_c"] == 1


def test_copy_forward_reference_and_chain(pm, write_config):
    path = write_config(
        "{'c': {'__copy__': 'b', 'z': 3}, 'b': {'__copy__': 'a', 'y': 2}, 'a': {'x': 1}}"
    )
    config = load_config(path, plugins=pm)
    assert config["c"] == {"x": 1, "y": 2, "z": 3}


def test_copy_patches_an_entry_from_an_earlier_file(pm, write_config):
    first = write_config("{'a': {'x': 1, 'y': 2}}", "first.py")
    second = write_config("{'a': {'__copy__': 'a', 'x': 5}}", "second.py")
    assert load_config([first, second], plugins=pm)["a"] == {"x": 5, "y": 2}


def test_copy_default_used_only_when_source_is_missing(pm, write_config):
    path = write_config(
        "{'given': {'k': 1},"
        " 'p': {'__copy__': 'missing', '__default__': {'d': 0}},"
        " 'q': {'__copy__': 'given', '__default__': {}, 'extra': 2}}"
    )
    config = load_config(path, plugins=pm)
    assert config["p"] == {"d": 0}
    assert config["q"] == {"k": 1, "extra": 2}  # no leaked __default__


def test_copy_of_missing_entry_names_it(pm, write_config):
    path = write_config("{'a': {'__copy__': 'nowhere'}}")
    with pytest.raises(ConfigError, match=r"a: __copy__ names 'nowhere'"):
        load_config(path, plugins=pm)


def test_copy_loop_is_an_error(pm, write_config):
    path = write_config("{'a': {'__copy__': 'b', 'x': 1}, 'b': {'__copy__': 'a', 'y': 1}}")
    with pytest.raises(ConfigError, match="loops"):
        load_config(path, plugins=pm)


def test_merge_configs_records_which_file_defined_each_key():
    merged, origin = merge_configs([("one.py", {"a": 1}), ("two.py", {"b": 2, "a": 3})])
    assert merged == {"a": 3, "b": 2}
    assert origin == {"a": "two.py", "b": "two.py"}


def test_mode_reaches_initialize_component_with_the_final_config(pm, write_config):
    calls = []

    class Recorder:
        def initialize_component(self, config):
            calls.append((self.__pld_config_key__, config.mode, config))

    class RecorderPlugin:
        @hookimpl
        def pld_register_models(self, register):
            register("recorder", Recorder)

    pm.register(RecorderPlugin(), name="recorder-plugin")
    path = write_config("{'r1': {'!': 'recorder'}, 'nested': {'r2': {'!': 'recorder'}}}")
    config = load_config(path, plugins=pm, __mode__="fit")
    assert [(key, mode) for key, mode, _ in calls] == [("r1", "fit"), ("r2", "fit")]
    assert all(seen is config for _, _, seen in calls)


def test_logging_entry_is_applied_as_dict_config(pm, write_config):
    path = write_config(
        "{'logging': {'version': 1, 'disable_existing_loggers': False,"
        " 'loggers': {'pld.test.logging': {'level': 'ERROR'}}}}"
    )
    load_config(path, plugins=pm)
    assert logging.getLogger("pld.test.logging").level == logging.ERROR


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{'a': 1", "syntax error"),
        ("[1, 2]", "must hold one dict, not a list"),
        ("{'a': undefined_name}", "NameError"),
        ("{'m': {'!': 'no-such-component'}}", "m: unknown factory 'no-such-component'"),
        ("{'m': {'!': 'nosuchpackage.Thing'}}", "no module named 'nosuchpackage'"),
        ("{'m': {'!': 'palladium.dataset.Nope'}}", "no installed plugin provides"),
        ("{'m': {'!': 'collections.NoSuchThing'}}", "has no attribute 'NoSuchThing'"),
        ("{'m': {'!': 'list-loader', 'bogus': 1}}", "bad arguments for list-loader"),
        ("{'m': {'!': 'json.loads', 's': '{'}}", "building json.loads failed: JSONDecodeError"),
        ("{'m': {'!': 'list-loader', '__factory__': 'list-loader'}}", "either '__factory__'"),
        ("{'logging': {'version': 99}}", "logging: invalid dictConfig"),
    ],
)
def test_config_errors_name_file_key_and_problem(pm, write_config, text, message):
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, plugins=pm)
    assert message in str(info.value)
    if "logging" not in text:
        assert path in str(info.value)
    assert "\n" not in str(info.value)


def test_syntax_error_names_the_line(pm, write_config):
    path = write_config("{\n 'a': 1,\n 'b': ,\n}")
    with pytest.raises(ConfigError, match=r"line 3: syntax error"):
        load_config(path, plugins=pm)


def test_missing_file_and_missing_entry(pm, write_config, tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "absent.py"), plugins=pm)
    config = load_config(write_config("{}"), plugins=pm)
    with pytest.raises(ConfigError, match="has no 'model' entry"):
        config["model"]
    assert config.get("model") is None


def test_config_files_come_from_option_then_pld_config_then_palladium_config(monkeypatch, in_tmp):
    monkeypatch.setenv("PALLADIUM_CONFIG", "pal.py")
    assert find_config_files() == ["pal.py"]
    monkeypatch.setenv("PLD_CONFIG", "a.py, b.py")
    assert find_config_files() == ["a.py", "b.py"]
    assert find_config_files("opt.py") == ["opt.py"]


def test_default_config_file_names(monkeypatch, in_tmp):
    monkeypatch.delenv("PLD_CONFIG", raising=False)
    monkeypatch.delenv("PALLADIUM_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="set PLD_CONFIG or pass --config"):
        find_config_files()
    (in_tmp / "etc").mkdir()
    (in_tmp / "etc" / "palladium-config.py").write_text("{}")
    assert find_config_files() == ["etc/palladium-config.py"]


def test_get_config_and_initialize_config_for_interactive_use(pm, write_config, monkeypatch):
    path = write_config("{'model': {'!': 'threshold', 'threshold': 2.0}}")
    monkeypatch.setenv("PALLADIUM_CONFIG", path)
    monkeypatch.setattr("pld_core.config.get_plugin_manager", lambda: pm)
    config = initialize_config(__mode__="fit")
    assert config["model"].threshold == 2.0
    assert config.mode == "fit"
    assert get_config() is config
    with pytest.raises(RuntimeError, match="already initialized"):
        initialize_config()


def test_config_is_trusted_code_but_only_sees_environ_and_here(pm, write_config):
    path = write_config("{'names': sorted(k for k in dir() if not k.startswith('__'))}")
    # dir() inside eval shows the evaluation namespace: exactly the two documented names.
    assert load_config(path, plugins=pm)["names"] == ["environ", "here"]


def test_components_can_call_get_config_while_the_config_initialises(pm, write_config):
    seen = []

    class Curious:
        def initialize_component(self, config):
            seen.append(get_config() is config)

    class CuriousPlugin:
        @hookimpl
        def pld_register_models(self, register):
            register("curious", Curious)

    pm.register(CuriousPlugin(), name="curious")
    load_config(write_config("{'c': {'!': 'curious'}}"), plugins=pm)
    assert seen == [True]
    from pld_core.config import _current

    assert _current is None  # a plain load_config leaves no process-wide config behind


def test_a_key_error_that_is_not_environ_is_reported_as_such(pm, write_config):
    path = write_config("{'a': {'x': 1}['y']}")
    with pytest.raises(ConfigError, match="evaluating failed: KeyError: 'y'"):
        load_config(path, plugins=pm)


def test_environ_works_as_a_mapping(pm, write_config, monkeypatch):
    monkeypatch.setenv("PLD_TEST_SET", "1")
    monkeypatch.delenv("PLD_TEST_UNSET", raising=False)
    path = write_config(
        "{'a': environ.get('PLD_TEST_UNSET', 'default'), 'b': 'PLD_TEST_SET' in environ}"
    )
    config = load_config(path, plugins=pm)
    assert (config["a"], config["b"]) == ("default", True)


def test_errors_found_after_loading_still_name_the_file(pm, write_config):
    from pld_core import scorers

    path = write_config("{'scoring': 'nope', 'fit_decorators': 5}")
    config = load_config(path, plugins=pm)
    with pytest.raises(ConfigError, match=rf"^{path}: scoring: unknown scorer 'nope'"):
        scorers(config, object())
    from pld_core import decorate

    with pytest.raises(ConfigError, match=rf"^{path}: fit_decorators: must be a list"):
        decorate(len, config, "fit_decorators")


def test_python_entry_edits_the_merged_config_before_components_are_built(
    pm, write_config, monkeypatch
):
    """Palladium's ``__python__``: statements with the merged dict as C, cfg and config."""
    monkeypatch.setenv("PLD_TEST_ROWS", "4")
    base = write_config("{'loader': {'!': 'list-loader', 'rows': 2}, 'keep': 1}", "base.py")
    patch = write_config(
        "{'__python__': '''\n"
        "C['loader']['!'] = 'palladium.dataset.ListLoader'\n"
        "cfg['loader']['rows'] = int(environ['PLD_TEST_ROWS'])\n"
        "config['added'] = {'!': 'list-loader', 'offset': C['keep']}\n"
        "config['folder'] = here\n"
        "'''}",
        "patch.py",
    )
    config = load_config(f"{base},{patch}", plugins=pm)
    assert config["loader"].rows == 4
    assert type(config["added"]).__name__ == "ListLoader" and config["added"].offset == 1
    assert config["folder"] == os.path.dirname(patch)
    assert "__python__" not in config


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("'C = = 1'", "patch.py: __python__: line 1: syntax error"),
        ("'C[\"missing\"][0] = 1'", "patch.py: __python__: running failed: KeyError: 'missing'"),
        ("'environ[\"PLD_NOT_SET_ANYWHERE\"]'", "variable PLD_NOT_SET_ANYWHERE is not set"),
        ("42", "patch.py: __python__: must be a string of Python statements"),
    ],
)
def test_python_entry_errors_name_the_file(pm, write_config, code, message):
    patch = write_config(f"{{'__python__': {code}}}", "patch.py")
    with pytest.raises(ConfigError) as info:
        load_config(patch, plugins=pm)
    assert message in str(info.value)


def test_palladium_partial_makes_a_configured_callable(pm, write_config):
    path = write_config("{'bad': {'!': 'partial', 'func': 'os.sep'}}")
    with pytest.raises(ConfigError, match="bad: .*func must be callable, not str"):
        load_config(path, plugins=pm)
    path = write_config(
        "{'cv': {'!': 'palladium.util.Partial',"
        " 'func': 'collections.OrderedDict', 'n_splits': 4},"
        " 'int16': {'!': 'partial', 'func': 'builtins.int', 'base': 16}}"
    )
    config = load_config(path, plugins=pm)
    assert dict(config["cv"]()) == {"n_splits": 4}
    assert config["cv"].__name__ == "OrderedDict" and not hasattr(config["cv"], "move_to_end")
    assert config["int16"]("ff") == 255
