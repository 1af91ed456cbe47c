"""Tokens with odd characters are refused at both ends with one plain line, never sent."""

from __future__ import annotations

import pytest

from calc_client.link import ConnectFailed, connect
from calc_server.config import Settings
from protocol.bearer import token_problem
from tests.client.calc_process import run_calc
from tests.conftest import ServerFactory
from tests.processes import clean_env, refused

BAD_TOKENS = ["tk\r", "tk\n", " spaced ", "a b", "tab\there", "nul\x00", "del\x7f", "é-accent", ""]


@pytest.mark.parametrize("token", ["abc", "A-z_0.9~+/", "dG9rZW4=", "x" * 1024])
def test_bearer_tokens_are_accepted(token: str) -> None:
    assert token_problem(token) is None


@pytest.mark.parametrize("token", [*BAD_TOKENS, "x" * 1025, "=abc"])
def test_anything_else_is_refused_without_quoting_it(token: str) -> None:
    problem = token_problem(token)
    assert problem is not None
    if token.strip():
        assert token.strip() not in problem


@pytest.mark.parametrize("token", [" spaced ", "tk\r"])
def test_server_refuses_a_token_no_client_could_send(token: str) -> None:
    with pytest.raises(ValueError, match="--token"):
        Settings(token=token).check()


async def test_calc_server_with_a_spaced_token_exits_with_one_line() -> None:
    ended = await refused("--token", " spaced ", env=clean_env())
    assert ended.code != 0
    [line] = ended.log_lines
    assert "--token" in line
    assert "white space" in line
    assert "listening" not in line


@pytest.mark.parametrize(
    ("args", "env"),
    [
        ([], {"CALC_TOKEN": "tk\r"}),  # the reported case: a traceback, exit 1
        (["--token", " spaced "], {}),
        (["--token", "tk\n"], {}),
    ],
    ids=["env-cr", "flag-spaced", "flag-newline"],
)
async def test_calc_says_what_is_wrong_in_one_line_and_exits_64(
    args: list[str], env: dict[str, str]
) -> None:
    finished = await run_calc("status", "--url", "ws://127.0.0.1:9/ws", *args, env=clean_env(**env))
    assert finished.code == 64
    lines = finished.stderr.strip().splitlines()
    assert "Traceback" not in finished.stderr
    assert "token" in lines[-1]
    assert all("spaced" not in line for line in lines)


@pytest.mark.parametrize("token", ["tk\r", " spaced "])
async def test_connect_refuses_before_sending(server_factory: ServerFactory, token: str) -> None:
    server = await server_factory(no_auth=False, token="right")
    with pytest.raises(ConnectFailed) as refused:
        await connect(server.url, token=token)
    assert refused.value.reason.startswith("invalid token:")
    assert not refused.value.retryable
