"""Boolean environment variables: only the usual spellings, anything else stops the server."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from calc_server.config import parse_settings
from tests.client.calc_process import clean_env

CALC_SERVER = str(Path(sys.executable).with_name("calc-server"))


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


async def test_calc_no_auth_false_keeps_authentication_on(tmp_path: Path) -> None:
    """The reported bug: ``CALC_NO_AUTH=false`` served without authentication."""
    env = clean_env(CALC_NO_AUTH="false", CALC_TOKEN_DIR=str(tmp_path))
    proc = await asyncio.create_subprocess_exec(
        CALC_SERVER,
        "--port",
        "0",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    head = ""
    try:
        async with asyncio.timeout(10):
            while line := (await proc.stderr.readline()).decode():
                head += line
                if "listening on" in line:
                    break
    finally:
        proc.terminate()
        await proc.wait()
    assert "authentication is off" not in head
    assert "access token written" in head


async def test_a_bad_value_stops_the_server_before_it_listens() -> None:
    env = clean_env(CALC_NO_AUTH="nope")
    proc = await asyncio.create_subprocess_exec(
        CALC_SERVER,
        "--port",
        "0",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(10):
        _, err = await proc.communicate()
    assert proc.returncode == 64
    assert err.decode().splitlines() == [
        "calc-server: error: CALC_NO_AUTH must be one of true/false, 1/0, yes/no (any case), "
        "got 'nope'"
    ]
