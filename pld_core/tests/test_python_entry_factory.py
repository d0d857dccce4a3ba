"""``__python__`` sees every factory spelled ``!``, as in Palladium 1.2.3 (issue 17)."""

from __future__ import annotations

import pytest

from pld_core import ConfigError, load_config


def test_python_entry_replaces_a_factory_written_as_dunder_factory(pm, write_config):
    base = write_config(
        "{'loader': {'__factory__': 'list-loader', 'rows': 2},"
        " 'nested': [{'inner': {'__factory__': 'list-loader'}}]}",
        "base.py",
    )
    patch = write_config(
        "{'__python__': '''\n"
        "C['loader']['!'] = 'palladium.dataset.ListLoader'\n"
        "C['loader']['rows'] = 3\n"
        "assert '__factory__' not in C['nested'][0]['inner']\n"
        "C['nested'][0]['inner']['offset'] = 7\n"
        "'''}",
        "patch.py",
    )
    config = load_config(f"{base},{patch}", plugins=pm)
    assert type(config["loader"]).__name__ == "ListLoader" and config["loader"].rows == 3
    assert config["nested"][0]["inner"].offset == 7


def test_both_spellings_in_one_dict_are_still_an_error(pm, write_config):
    path = write_config(
        "{'loader': {'__factory__': 'list-loader', '!': 'list-loader'}, '__python__': 'pass'}"
    )
    with pytest.raises(ConfigError, match="use either '__factory__' or '!', not both"):
        load_config(path, plugins=pm)
