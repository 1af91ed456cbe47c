"""Absurd server settings are refused at start with one line, not served."""

from __future__ import annotations

import pytest

from calc_server.config import Settings
from tests.processes import clean_env, refused


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--stage-seconds", "1e308"], "--stage-seconds"),
        (["--stage-seconds", "1e-300"], "--stage-seconds"),
        (["--heartbeat", "1e308"], "--heartbeat"),
        (["--heartbeat", "0.0000001"], "--heartbeat"),
        (["--max-connections", "99999999999"], "--max-connections"),
    ],
)
async def test_calc_server_refuses_absurd_values_in_one_line(args: list[str], flag: str) -> None:
    ended = await refused("--no-auth", *args, env=clean_env())
    assert ended.code != 0
    [line] = ended.log_lines
    assert flag in line
    assert "must be between" in line


@pytest.mark.parametrize(
    "settings",
    [
        Settings(no_auth=True, stage_seconds=float("nan")),
        Settings(no_auth=True, heartbeat=float("inf")),
        Settings(no_auth=True, max_connections=10**9),
    ],
)
def test_settings_check_refuses_them_too(settings: Settings) -> None:
    with pytest.raises(ValueError, match="must be between"):
        settings.check()


def test_the_defaults_and_test_values_are_within_bounds() -> None:
    Settings(token="t").check()
    Settings(no_auth=True, stage_seconds=0.1, heartbeat=300.0, behind_timeout=0.3).check()
