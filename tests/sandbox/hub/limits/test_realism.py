"""The realism knobs and ``python -m kit.sandbox realism`` (kit/sandbox/hub/limits/realism.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kit.sandbox import rbac
from kit.sandbox.hub.limits import realism


def cli(sandbox, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit.sandbox", *args, "--state-dir", sandbox.state_dir],
                          capture_output=True, text=True)


def test_realism_command_shows_and_sets_the_knobs(sandbox, state_db):
    before = realism.read(state_db)
    try:
        shown = json.loads(cli(sandbox, "realism", "--throttling", "off", "--query-lag", "0.5").stdout)
        assert shown["throttling"] == "off" and shown["query_lag_seconds"] == 0.5
        assert shown["unquoted_etags"] == "ignored"
        assert shown["hub"] == {"tier": "S1", "units": 1}
        assert shown["throttles_per_minute"]["identity registry operations"] == 100
        assert realism.read(state_db)["query_lag_seconds"] == 0.5  # stored in the sandbox's state
        refused = cli(sandbox, "realism", "--query-lag", "soon")
        assert refused.returncode == 2 and "--query-lag" in refused.stderr and "number of seconds" in refused.stderr
        assert realism.read(state_db)["query_lag_seconds"] == 0.5  # a refused value changes nothing
        propagation = json.loads(cli(sandbox, "realism", "--role-propagation", "7").stdout)["role_propagation_seconds"]
        assert propagation == 7 and rbac.propagation_seconds(state_db) == 7  # the setting the role command shows
    finally:
        realism.ensure(state_db, before)


def test_defaults_are_azures_behaviour():
    assert realism.defaults() == {"throttling": True, "query_lag_seconds": 2.0, "unquoted_etags": "ignored",
                                  **{name: knob.default for name, knob in realism.KNOBS.items()
                                     if name not in ("throttling", "query_lag_seconds", "unquoted_etags")}}


@pytest.mark.parametrize(("knob", "text", "error"), [
    ("throttling", "maybe", "neither on nor off"), ("query_lag_seconds", "-1", "out of range"),
    ("unquoted_etags", "strict", "neither 'ignored'"), ("no_such_knob", "1", "no knob"),
])
def test_bad_values_name_the_option(state_db, sandbox, knob, text, error):
    with pytest.raises(ValueError, match=error):
        realism.update(state_db, {knob: text})


def test_hub_tier_sets_units_within_the_tier(sandbox):
    shown = json.loads(cli(sandbox, "hub-tier", "S1", "--units", "3").stdout)
    try:
        assert shown == {"tier": "S1", "units": 3, "max_active_jobs": 1}
        refused = cli(sandbox, "hub-tier", "S3", "--units", "50")
        assert refused.returncode == 2 and "1 to 10 units" in refused.stderr
        assert json.loads(cli(sandbox, "hub-tier").stdout)["tier"] == "S1"  # a refused command changes nothing
    finally:
        cli(sandbox, "hub-tier", "S1", "--units", "1")
