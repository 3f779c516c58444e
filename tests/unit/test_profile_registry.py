"""The profile registry is the one list: the CLI, the settings and the checked-option
marks are all read from it (issue 34: they were kept by hand in three places)."""

from __future__ import annotations

from typing import get_args

from typer.testing import CliRunner

from logbridge.cli import app
from logbridge.profiles import PROFILES, REGISTRY, build, checked_options, option_table
from logbridge.settings import LogbridgeSettings, ProfileSettings


def test_settings_allow_exactly_the_registered_profiles() -> None:
    assert get_args(ProfileSettings.model_fields["name"].annotation) == PROFILES
    schema = LogbridgeSettings.model_json_schema()["$defs"]["ProfileSettings"]["properties"]["name"]
    assert schema["enum"] == list(PROFILES) and schema["default"] == PROFILES[0]


def test_each_spec_builds_its_own_profile_and_checks_only_its_own_options() -> None:
    for name, spec in REGISTRY.items():
        assert build(name, {}).name == name == spec.name
        assert option_table(name) == spec.options
        assert checked_options(name) <= {o.name for o in spec.options}


def test_the_cli_lists_every_registered_profile() -> None:
    out = CliRunner().invoke(app, ["profiles"]).output
    listed = [line.split(":")[0] for line in out.splitlines() if line and not line.startswith((" ", "*"))]
    assert listed == list(PROFILES)
