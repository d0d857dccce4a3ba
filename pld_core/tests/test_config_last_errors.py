"""Broken configs that used to escape the one-line rule, and configs built on first use.

Each broken config is one line naming the file and the key, exit 2, through the real ``pld``
command in a subprocess (no traceback, nothing done); a lazy config builds an entry that
makes components only when a command uses it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pld_core import ConfigError, load_config, make_cli
from pld_core.config import MAX_COPY_DEPTH

from .conftest import env_without_config

PERSISTER = "'model_persister': {'!': 'json', 'path': here + '/models.json'}"


def pld(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``pld`` command (installed plugins and all) on ``config``."""
    return subprocess.run(
        [sys.executable, "-c", "from pld_core.cli import main; main()", "--config", str(config)]
        + list(args),
        capture_output=True,
        text=True,
        env=env_without_config(),
        cwd=config.parent,
        timeout=120,
    )


def one_line_exit_2(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("{'a': {'x': {'__copy__': 'b'}}, 'b': {'y': {'__copy__': 'a'}}}", "b.y"),
        ("{'a': {'x': [{'k': 1}, {'__copy__': 'a'}]}}", "a.x[1]"),
        ("{'a': {'x': {'__copy__': 'a', 'k': 1}}}", "a.x"),
    ],
)
def test_a_nested_copy_loop_is_one_line_naming_file_and_key(tmp_path, text, key):
    config = tmp_path / "loop.py"
    config.write_text(text)
    line = one_line_exit_2(pld(config, "list"))
    assert line == f"Error: {config}: {key}: __copy__ of 'a' loops"


def test_a_3000_long_copy_chain_is_one_line_naming_file_and_key(tmp_path):
    chain = ", ".join(f"'e{i}': {{'__copy__': 'e{i + 1}'}}" for i in range(3000))
    config = tmp_path / "chain.py"
    config.write_text("{" + chain + ", 'e3000': {'x': 1}}")
    line = one_line_exit_2(pld(config, "list"))
    deepest = f"e{MAX_COPY_DEPTH}"
    assert line == (
        f"Error: {config}: {deepest}: __copy__ of 'e{MAX_COPY_DEPTH + 1}' nests more than "
        f"{MAX_COPY_DEPTH} copies deep (a chain of copies that starts at 'e0')"
    )


def test_a_copy_chain_within_the_limit_resolves(pm, write_config):
    chain = ", ".join(f"'e{i}': {{'__copy__': 'e{i + 1}'}}" for i in range(MAX_COPY_DEPTH))
    config = load_config(
        write_config("{" + chain + f", 'e{MAX_COPY_DEPTH}': {{'x': 1}}}}"), plugins=pm
    )
    assert config["e0"] == {"x": 1}


def test_copy_of_a_sibling_is_not_a_loop(pm, write_config):
    text = "{'a': {'x': {'k': 1}, 'y': {'__copy__': 'a.x', 'j': 2}}, 'b': {'__copy__': 'a'}}"
    config = load_config(write_config(text), plugins=pm)
    assert config["b"] == {"x": {"k": 1}, "y": {"k": 1, "j": 2}}


def test_invalid_utf8_is_one_line_exit_2(tmp_path):
    config = tmp_path / "latin1.py"
    config.write_bytes(b"{\n    'name': 'caf\xe9',\n}\n")
    line = one_line_exit_2(pld(config, "list"))
    assert line == f"Error: {config}: line 2: not UTF-8 text (byte 0xe9); save the file as UTF-8"


def test_a_nul_byte_is_one_line_exit_2(tmp_path):
    config = tmp_path / "nul.py"
    config.write_bytes(b"{'a': 1}\x00")
    assert one_line_exit_2(pld(config, "list")).startswith(f"Error: {config}: syntax error: ")


EXITER = """import sys
from pathlib import Path

from pld_core import DatasetLoader, ModelPersister


def make():
    sys.exit(0)


class Loader(DatasetLoader):
    def __call__(self):
        return [[1.0], [2.0]], ["a", "b"]


class Store(ModelPersister):
    def write(self, model):
        Path(__file__).with_name("fitted").write_text("a model was written")
        return 1

    read = activate = delete = list_models = list_properties = write
"""


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("'model': {'!': 'sys.exit'}", "model: building sys.exit failed: it called sys.exit(None)"),
        (
            "'model': {'!': 'exiter.make'}",
            "model: building exiter.make failed: it called sys.exit(0)",
        ),
        (
            "'__python__': 'import sys; sys.exit(3)'",
            "__python__: running failed: it called sys.exit(3)",
        ),
    ],
)
def test_config_code_that_calls_sys_exit_is_one_line_exit_2_and_nothing_is_fitted(
    tmp_path, entry, message
):
    (tmp_path / "exiter.py").write_text(EXITER)
    config = tmp_path / "exits.py"
    config.write_text(
        "{'dataset_loader_train': {'!': 'exiter.Loader'}, "
        f"'model_persister': {{'!': 'exiter.Store'}}, {entry}}}"
    )
    line = one_line_exit_2(pld(config, "fit"))
    assert line.startswith(f"Error: {config}: ") and message in line
    assert "config code must return, not exit" in line
    assert not (tmp_path / "fitted").exists()


def test_a_config_file_that_exits_while_evaluated_is_one_line_exit_2(tmp_path):
    config = tmp_path / "exits.py"
    config.write_text("__import__('sys').exit(0)")
    line = one_line_exit_2(pld(config, "list"))
    assert line == (
        f"Error: {config}: evaluating failed: it called sys.exit(0); "
        "config code must return, not exit"
    )


def test_serve_without_a_model_persister_is_one_line_exit_2(tmp_path):
    config = tmp_path / "no-persister.py"
    config.write_text("{'service_metadata': {'service_name': 'no store'}}")
    line = one_line_exit_2(pld(config, "serve", "--port", "0"))
    assert line == (
        f"Error: {config}: the configuration has no 'model_persister' entry; "
        "pld serve reads the model to serve from it"
    )


# -- lazy configs: an entry is built when it is used ----------------------------------------

BUILT: list[str] = []


class Recorder:
    """Notes when it is built and initialised."""

    def __init__(self, name: str, fail: bool = False):
        if fail:
            raise ValueError(f"{name} cannot be built")
        self.name = name
        BUILT.append(f"built {name}")

    def initialize_component(self, config: Any) -> None:
        BUILT.append(f"initialized {self.name}")


RECORDER = f"{__name__}.Recorder"


@pytest.fixture
def recorded(pm, write_config):
    BUILT.clear()
    text = f"""{{
        'plain': {{'a': [1, 2]}},
        'first': {{'!': '{RECORDER}', 'name': 'first'}},
        'broken': {{'!': '{RECORDER}', 'name': 'broken', 'fail': True}},
        'second': {{'outer': {{'!': '{RECORDER}', 'name': 'second'}}}},
    }}"""
    return write_config(text)


def test_a_lazy_config_builds_an_entry_with_components_on_first_use(pm, recorded):
    config = load_config(recorded, plugins=pm, lazy=True)
    assert BUILT == []
    assert config["plain"] == {"a": [1, 2]}
    assert "first" in config and len(config) == 4
    assert config["first"].name == "first"
    assert BUILT == ["built first", "initialized first"]
    assert config.get("second")["outer"].name == "second"
    assert BUILT[2:] == ["built second", "initialized second"]
    with pytest.raises(ConfigError, match=r"broken: building .*Recorder failed: ValueError"):
        config["broken"]


def test_iterating_a_lazy_config_builds_all_in_file_order(pm, recorded):
    config = load_config(recorded, plugins=pm, lazy=True)
    config["second"]
    config["broken"] = "replaced"  # set before it was built: never built
    assert list(config) == ["plain", "first", "broken", "second"]
    assert BUILT == ["built second", "initialized second", "built first", "initialized first"]


def test_an_eager_config_builds_every_entry_at_load(pm, recorded):
    with pytest.raises(ConfigError, match="broken cannot be built"):
        load_config(recorded, plugins=pm)


def test_commands_build_only_the_entries_they_use(pm, write_config):
    text = "{" + PERSISTER + f", 'model': {{'!': '{RECORDER}', 'name': 'm', 'fail': True}}}}"
    runner = CliRunner()
    listed = runner.invoke(make_cli(pm), ["--config", write_config(text), "list"])
    assert listed.exit_code == 0, listed.output  # the broken model is not needed to list
    fitted = runner.invoke(make_cli(pm), ["--config", write_config(text), "fit"])
    assert fitted.exit_code == 2
    assert "model: building" in fitted.output and "m cannot be built" in fitted.output


def test_an_entry_nested_too_deep_for_python_is_one_line_exit_2(tmp_path):
    config = tmp_path / "deep.py"
    config.write_text(
        "{'__python__': 'node = 1\\nfor _ in range(5000):\\n    node = {\"n\": node}\\n"
        'C["deep"] = node\'}'
    )
    assert one_line_exit_2(pld(config, "list")) == "Error: deep: nests too deep to build"
