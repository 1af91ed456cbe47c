"""calc-server settings: flags, CALC_* environment fallbacks, and clear refusals."""

from __future__ import annotations

import pytest

from calc_server.config import Settings, parse_settings


def test_defaults_match_the_documentation() -> None:
    settings = parse_settings([], env={})
    assert settings == Settings(
        host="127.0.0.1", port=8765, stage_seconds=2.0, heartbeat=15.0, log_level="INFO"
    )


def test_environment_supplies_defaults_and_flags_win() -> None:
    env = {
        "CALC_HOST": "::1",
        "CALC_PORT": "9000",
        "CALC_STAGE_SECONDS": "0.5",
        "CALC_HEARTBEAT": "3",
        "CALC_LOG_LEVEL": "debug",
    }
    from_env = parse_settings([], env=env)
    assert (from_env.host, from_env.port, from_env.stage_seconds) == ("::1", 9000, 0.5)
    assert (from_env.heartbeat, from_env.log_level) == (3.0, "DEBUG")
    flagged = parse_settings(["--port", "9001", "--stage-seconds", "1"], env=env)
    assert (flagged.port, flagged.stage_seconds) == (9001, 1.0)


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--stage-seconds", "0"], "must be a positive number"),
        (["--port", "70000"], "must be a port number"),
        (["--heartbeat", "-1"], "must be a positive number"),
    ],
)
def test_bad_values_are_refused_with_a_reason(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_settings(argv, env={})
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err
