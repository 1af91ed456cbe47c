"""calc-server settings: flags, CALC_* environment fallbacks, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from calc_server.config import Settings, parse_settings


def test_defaults_match_the_documentation() -> None:
    settings = parse_settings([], env={})
    assert settings == Settings(
        host="127.0.0.1",
        port=8765,
        stage_seconds=2.0,
        heartbeat=15.0,
        log_level="INFO",
        history=platformdirs.user_state_path("calc") / "history-8765.sqlite3",
        history_keep=10_000,
    )


def test_the_history_file_is_named_after_the_port_in_the_state_directory() -> None:
    env = {"XDG_STATE_HOME": "/srv/state"}
    assert parse_settings(["--port", "9000"], env=env).history == Path(
        "/srv/state/calc/history-9000.sqlite3"
    )
    # beside the token file when its directory is given
    beside = parse_settings([], env={**env, "CALC_TOKEN_DIR": "/srv/tokens"}).history
    assert beside == Path("/srv/tokens/history-8765.sqlite3")
    # a random port would never find its file again: memory only
    assert parse_settings(["--port", "0"], env=env).history is None


def test_history_options_and_their_environment() -> None:
    env = {"CALC_HISTORY": "/srv/runs.sqlite3", "CALC_HISTORY_KEEP": "50"}
    from_env = parse_settings([], env=env)
    assert (from_env.history, from_env.history_keep) == (Path("/srv/runs.sqlite3"), 50)
    flagged = parse_settings(["--history", "none", "--history-keep", "7"], env=env)
    assert (flagged.history, flagged.history_keep) == (None, 7)
    assert parse_settings(["--port", "0", "--history", "h.db"], env={}).history == Path("h.db")


def test_a_cluster_node_has_no_history_file_and_refuses_one() -> None:
    env = {"XDG_STATE_HOME": "/srv/state", "CALC_TOKEN": "t"}
    cluster = ["--redis", "redis://127.0.0.1:6379/0"]
    assert parse_settings([*cluster, "--workers", "2"], env=env).history is None
    assert parse_settings(cluster, env=env).history is None
    for given in (["--history", "/srv/runs.sqlite3"], ["--history", "none"]):
        with pytest.raises(SystemExit) as refused:
            parse_settings([*cluster, *given], env=env)
        assert refused.value.code == 64
    with pytest.raises(SystemExit):
        parse_settings(cluster, env={**env, "CALC_HISTORY": "h.db"})
    with pytest.raises(ValueError, match="kept in Redis"):
        Settings(token="t" * 32, redis_url="redis://h/0", history=Path("h.db")).check()


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
        (["--history-keep", "0"], "must be a whole number of at least 1"),
    ],
)
def test_bad_values_are_refused_with_a_reason(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_settings(argv, env={})
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err
