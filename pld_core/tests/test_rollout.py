"""``pld fit --activate-if-better`` and ``pld rollback``: promote only a better model, go back."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pld_core import make_cli

CONFIG = """{
    'dataset_loader_train': {'!': 'list-loader', 'rows': 40},
    'dataset_loader_test': {'__copy__': 'dataset_loader_train', 'offset': 3},
    'model': {'!': 'threshold', 'threshold': %s},
    'model_persister': {'!': 'json', 'path': here + '/models.json'},
}"""


@pytest.fixture
def run(pm, write_config):
    """``run(threshold, *args)``: pld with a model whose quality the threshold sets."""

    def invoke(threshold: float, *args: str):
        path = write_config(CONFIG % threshold, name=f"config_{threshold}.py")
        return CliRunner().invoke(make_cli(pm), ["--config", path, *args])

    return invoke


def _listing(run) -> dict:
    return json.loads(run(5.0, "list", "--json").stdout)


def test_activate_if_better_stores_a_worse_candidate_but_keeps_the_active_one(run):
    first = run(3.0, "fit", "--activate-if-better")  # no active version: the candidate wins
    assert first.exit_code == 0, first.output
    assert "Activated model with version 1." in first.stdout

    worse = run(1.0, "fit", "--activate-if-better")
    assert worse.exit_code == 0, worse.output
    assert "Wrote model with version 2." in worse.stdout
    assert "Activated" not in worse.stdout and "Rollout: keep" in worse.stdout
    listing = _listing(run)
    assert listing["properties"]["active-model"] == "1"
    rollout = listing["models"][1]["rollout"]
    assert rollout["decision"] == "keep" and rollout["active_version"] == 1
    assert rollout["candidate_score"] < rollout["active_score"]

    better = run(5.0, "fit", "--activate-if-better")
    assert "Activated model with version 3." in better.stdout
    listing = _listing(run)
    assert listing["properties"]["active-model"] == "3"
    rollout = listing["models"][2]["rollout"]
    assert rollout["decision"] == "activate" and rollout["candidate_score"] == 1.0
    assert rollout["active_score"] < 1.0


def test_margin_keeps_a_candidate_that_is_better_by_too_little(run):
    run(4.0, "fit")
    kept = run(5.0, "fit", "--activate-if-better", "--margin", "0.5")
    assert "Rollout: keep" in kept.stdout
    assert _listing(run)["properties"]["active-model"] == "1"
    equal = run(4.0, "fit", "--activate-if-better")  # as good is not better
    assert "Rollout: keep" in equal.stdout
    assert _listing(run)["properties"]["active-model"] == "1"


def test_activate_if_better_needs_test_data(pm, write_config):
    path = write_config(
        "{'dataset_loader_train': {'!': 'list-loader'}, 'model': {'!': 'threshold'},"
        " 'model_persister': {'!': 'json', 'path': here + '/m.json'}}"
    )
    result = CliRunner().invoke(make_cli(pm), ["--config", path, "fit", "--activate-if-better"])
    assert result.exit_code == 2
    assert "dataset_loader_test" in result.stderr and "Traceback" not in result.stderr


def test_rollback_twice_goes_back_two_activations(run):
    for threshold in (3.0, 4.0, 5.0):
        assert run(threshold, "fit").exit_code == 0
    assert run(5.0, "fit", "--no-activate").exit_code == 0  # written, never active
    assert _listing(run)["properties"]["active-model"] == "3"

    once = run(5.0, "rollback")
    assert once.exit_code == 0, once.output
    assert "Rolled back from version 3; version 2 is active." in once.stdout
    assert _listing(run)["properties"]["active-model"] == "2"
    twice = run(5.0, "rollback")
    assert "Rolled back from version 2; version 1 is active." in twice.stdout
    assert _listing(run)["properties"]["active-model"] == "1"

    nothing_before = run(5.0, "rollback")
    assert nothing_before.exit_code == 1
    assert "version 1 records no previously active version" in nothing_before.stderr
    assert "Traceback" not in nothing_before.stderr


def test_rollback_after_a_kept_candidate_returns_past_it(run):
    run(3.0, "fit")
    run(5.0, "fit")  # 2 active over 1
    run(1.0, "fit", "--activate-if-better")  # 3 stored, kept out
    assert "version 1 is active" in run(5.0, "rollback").stdout


def test_rollback_without_active_version_fails_in_one_line(run):
    run(5.0, "fit", "--no-activate")
    result = run(5.0, "rollback")
    assert result.exit_code == 1
    assert "nothing to roll back" in result.stderr and len(result.stderr.splitlines()) == 1
