"""Client names: USER@HOST by default, ``--name`` and ``CALC_NAME`` override it (``calc``)."""

from __future__ import annotations

import re
import socket

import msgspec
import pytest

from calc_local.defaults import default_client_name
from calc_local.names import fit_name, name_problem
from calc_server.runner import RunningServer
from protocol import PROTOCOL_VERSION, Hello, Phase, State, client_decoder, encode
from protocol.messages import CLIENT_NAME_PATTERN
from tests.client.calc_process import run_calc
from tests.conftest import ServerFactory
from tests.processes import clean_env
from tests.wsclient import RawClient

HOSTILE = [
    "alice@host",
    "",
    "a" * 100,
    "evil\x1b[2J@host",
    "tab\there",
    "bidi\u202eevil",
    "c1\x9bcontrol",
    "\x00\x01",
    "üñí©ødé@høst",
    "zero\u200bwidth",
    "\ufeffbom",
    "filler\u3164",
    "line\u2028separator",
    "tag\U000e0041",
]


def wire_accepts(name: str) -> bool:
    """Whether the server's decoder takes ``name`` as a hello's client name."""
    raw = b'{"type":"hello","protocol":1,"client":' + msgspec.json.encode(name) + b"}"
    try:
        client_decoder.decode(raw)
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize("text", HOSTILE)
def test_the_local_name_rule_is_the_protocols(text: str) -> None:
    assert (name_problem(text) is None) == wire_accepts(text)
    assert wire_accepts(fit_name(text))


def test_the_local_rule_forbids_exactly_the_characters_the_protocol_forbids() -> None:
    """Every code point, so neither copy of the rule can drift from the other."""
    pattern = re.compile(CLIENT_NAME_PATTERN)
    differ = [
        hex(code)
        for code in range(0x110000)
        if (name_problem(f"a{chr(code)}") is None) != bool(pattern.fullmatch(f"a{chr(code)}"))
    ]
    assert differ == []


def test_default_is_user_at_host_and_calc_name_wins() -> None:
    host = socket.gethostname()
    assert default_client_name({"LOGNAME": "alice"}) == f"alice@{host}"[:64]
    assert default_client_name({"USER": "bob\x1b"}) == f"bob@{host}"[:64]
    assert default_client_name({"LOGNAME": "alice", "CALC_NAME": "build bot"}) == "build bot"
    assert len(default_client_name({"LOGNAME": "x" * 80})) == 64


async def started_by(server: RunningServer, *args: str, **env: str) -> str:
    """Run ``calc start ARGS`` with ``env``; the ``started_by`` the server gave the run."""
    watcher = await RawClient.open_ready(server.url)
    try:
        mark = await watcher.send(Hello(protocol=PROTOCOL_VERSION, client="watcher"))
        result = await run_calc("start", "--url", server.url, *args, env=clean_env(**env))
        assert result.code == 0, result.stderr
        # the state may have arrived before calc exited: look from before it started
        state = await watcher.expect(State, lambda s: s.state is Phase.STARTING, since=mark)
        assert state.started_by is not None
        return state.started_by
    finally:
        await watcher.close()


async def test_calc_is_named_user_at_host_by_default(server: RunningServer) -> None:
    name = await started_by(server, LOGNAME="alice", USER="alice")
    assert name.startswith(f"alice@{socket.gethostname()}"[:64] + " (")


async def test_calc_name_and_the_name_option_override_the_default(
    server_factory: ServerFactory,
) -> None:
    from_env = await started_by(await server_factory(), LOGNAME="alice", CALC_NAME="nightly build")
    assert from_env.startswith("nightly build (")
    from_option = await started_by(
        await server_factory(),
        "--name",
        "carol on tty2",
        LOGNAME="alice",
        CALC_NAME="nightly build",
    )
    assert from_option.startswith("carol on tty2 (")


async def test_a_name_the_protocol_refuses_is_a_usage_error(server: RunningServer) -> None:
    result = await run_calc("status", "--url", server.url, "--name", "x" * 65)
    assert result.code == 64
    assert "--name" in result.stderr
    assert "at most 64" in result.stderr
    bad_env = await run_calc("status", "--url", server.url, env=clean_env(CALC_NAME="a\x1bb"))
    assert bad_env.code == 64
    assert "control" in bad_env.stderr


def test_encode_of_a_fitted_name_round_trips() -> None:
    hello = Hello(protocol=PROTOCOL_VERSION, client=fit_name("evil\x1b[2J@host"))
    assert client_decoder.decode(encode(hello)) == hello
