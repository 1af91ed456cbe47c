"""Boolean environment variables: only the usual spellings, anything else stops the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from calc_server.config import parse_settings
from tests.processes import Auth, ServerProcess, clean_env, refused


@pytest.mark.parametrize(
    ("value", "no_auth"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("Yes", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("NO", False),
        ("", False),
    ],
)
def test_the_usual_spellings_mean_what_they_say(value: str, no_auth: bool) -> None:
    assert parse_settings([], env={"CALC_NO_AUTH": value}).no_auth is no_auth


@pytest.mark.parametrize("value", ["maybe", "off", "2", "tru", "y"])
def test_anything_else_exits_64_with_one_line(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_settings([], env={"CALC_NO_AUTH": value})
    assert exited.value.code == 64
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "CALC_NO_AUTH" in err


@pytest.mark.parametrize("name", ["CALC_NO_AUTH", "CALC_REUSE_PORT"])
def test_every_boolean_variable_is_read_strictly(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    field = name.removeprefix("CALC_").lower()
    assert getattr(parse_settings([], env={name: "false"}), field) is False
    assert getattr(parse_settings([], env={name: "yes"}), field) is True
    with pytest.raises(SystemExit) as exited:
        parse_settings([], env={name: "off"})
    assert exited.value.code == 64
    assert name in capsys.readouterr().err


async def test_calc_no_auth_false_keeps_authentication_on(tmp_path: Path) -> None:
    """The reported bug: ``CALC_NO_AUTH=false`` served without authentication."""
    env = clean_env(CALC_NO_AUTH="false", CALC_TOKEN_DIR=str(tmp_path))
    server = await ServerProcess.start(auth=Auth.SERVER_DEFAULT, env=env)
    await server.shut_down()
    assert "authentication is off" not in server.head
    assert "access token written" in server.head


async def test_a_bad_value_stops_the_server_before_it_listens() -> None:
    ended = await refused(env=clean_env(CALC_NO_AUTH="nope"))
    assert ended.code == 64
    assert ended.log_lines == [
        "calc-server: error: CALC_NO_AUTH must be one of true/false, 1/0, yes/no (any case), "
        "got 'nope'"
    ]
