"""The default: a generated token, a 0600 token file, and local clients that just connect."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from calc_local.tokenfile import read_token, token_path, write_token
from tests.client.calc_process import run_calc
from tests.processes import Auth, ServerProcess, clean_env, refused


async def start_server(env: dict[str, str], *args: str) -> ServerProcess:
    """calc-server on a free port (unless ``args`` say otherwise), authenticating as ``env``
    and ``args`` say: by default with a generated token."""
    return await ServerProcess.start(*args, auth=Auth.SERVER_DEFAULT, env=env)


async def test_generated_token_is_private_and_local_clients_find_it(tmp_path: Path) -> None:
    env = clean_env(CALC_TOKEN_DIR=str(tmp_path / "tokens"))
    server = await start_server(env)
    port = server.port
    try:
        path = token_path(port, env)
        token = read_token(port, env)
        assert token is not None
        assert len(token) >= 32
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        url = f"ws://127.0.0.1:{port}/ws"
        joined = await run_calc("status", "--url", url, env=env)
        assert joined.code == 0, joined.stderr
        assert (await run_calc("status", "--url", f"ws://localhost:{port}/ws", env=env)).code == 0
        wrong = await run_calc("status", "--url", url, env={**env, "CALC_TOKEN": "nope"})
        assert wrong.code == 2
        assert "authentication failed" in wrong.stderr
        elsewhere = await run_calc(
            "status", "--url", url, env=clean_env(CALC_TOKEN_DIR=str(tmp_path / "empty"))
        )
        assert elsewhere.code == 2
        assert "authentication failed" in elsewhere.stderr
    finally:
        await server.shut_down()
    log = server.log_text
    assert token not in log  # the log says where the token is, never what it is
    assert str(path) in log
    assert not path.exists()  # removed at shutdown


async def test_explicit_token_from_environment(tmp_path: Path) -> None:
    env = clean_env(CALC_TOKEN_DIR=str(tmp_path), CALC_TOKEN="from-env-token")
    server = await start_server(env)
    port = server.port
    try:
        assert read_token(port, env) is None  # an explicit token is not written anywhere
        url = f"ws://127.0.0.1:{port}/ws"
        assert (await run_calc("status", "--url", url, env=env)).code == 0
        flagged = await run_calc(
            "status", "--url", url, "--token", "from-env-token", env=clean_env()
        )
        assert flagged.code == 0, flagged.stderr
    finally:
        await server.shut_down()
    assert "from-env-token" not in server.log_text


async def test_no_auth_off_loopback_is_refused_with_a_clear_message() -> None:
    ended = await refused("--no-auth", "--host", "0.0.0.0", env=clean_env())
    assert ended.code == 2
    assert "--no-auth is only allowed on a loopback address" in ended.stderr
    assert "Traceback" not in ended.stderr


def test_token_file_path_follows_runtime_dir() -> None:
    env = {"XDG_RUNTIME_DIR": "/run/user/1000"}
    assert token_path(8765, env) == Path("/run/user/1000/calc/token-127.0.0.1-8765")
    assert token_path(8765, {"CALC_TOKEN_DIR": "/x"}, host="::1") == Path("/x/token-::1-8765")
    assert str(token_path(1, {})).startswith(os.path.expanduser("~"))


def test_token_dir_is_made_private_and_planted_links_are_not_followed(tmp_path: Path) -> None:
    env = {"CALC_TOKEN_DIR": str(tmp_path / "shared")}
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o777)
    directory.chmod(0o777)
    bait = tmp_path / "world-readable"
    bait.write_text("")
    bait.chmod(0o644)
    # an attacker's guess at a temporary name, and the final name, both as links to the bait
    (directory / f".{token_path(9999, env).name}.{os.getpid()}").symlink_to(bait)
    token_path(9998, env).symlink_to(bait)
    path = write_token(9999, "secret", env)
    assert bait.read_text() == ""
    assert not path.is_symlink()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert read_token(9999, env) == "secret"
    assert read_token(9998, env) is None  # a link is never read


def test_a_token_file_others_could_read_or_write_is_ignored(tmp_path: Path) -> None:
    env = {"CALC_TOKEN_DIR": str(tmp_path)}
    path = write_token(7000, "secret", env)
    path.chmod(0o644)
    assert read_token(7000, env) is None
    path.chmod(0o600)
    assert read_token(7000, env) == "secret"


async def test_explicit_token_server_removes_a_stale_token_file(tmp_path: Path) -> None:
    env = clean_env(CALC_TOKEN_DIR=str(tmp_path))
    server = await start_server(env, "--token", "fresh-token")
    port = server.port
    try:
        write_token(port, "stale-token-from-a-crash", env)  # as a crashed server would leave
        await server.shut_down()
        server = await start_server(env, "--token", "fresh-token", "--port", str(port))
        assert server.port == port
        assert read_token(port, env) is None
        assert (await run_calc("status", "--url", f"ws://127.0.0.1:{port}/ws", env=env)).code == 2
        with_token = {**env, "CALC_TOKEN": "fresh-token"}
        url = f"ws://127.0.0.1:{port}/ws"
        assert (await run_calc("status", "--url", url, env=with_token)).code == 0
    finally:
        if server.proc.returncode is None:
            await server.shut_down()
