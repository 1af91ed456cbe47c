"""Something other than a file planted at the token path: one error line, no traceback."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

from calc_local.tokenfile import remove_token, token_path
from tests.client.calc_process import clean_env

CALC_SERVER = str(Path(sys.executable).with_name("calc-server"))


def test_remove_token_leaves_a_directory_alone(tmp_path: Path) -> None:
    env = {"CALC_TOKEN_DIR": str(tmp_path)}
    token_path(4242, env).mkdir(parents=True)
    remove_token(4242, env)  # does not raise
    assert token_path(4242, env).is_dir()


async def test_directory_at_the_token_path_gives_one_line_and_no_traceback(
    tmp_path: Path,
) -> None:
    env = clean_env(CALC_TOKEN_DIR=str(tmp_path))
    # a fixed free port is needed to plant the directory first: let the OS pick one
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token_path(port, env).mkdir(parents=True)
    proc = await asyncio.create_subprocess_exec(
        CALC_SERVER,
        "--port",
        str(port),
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(10):
        _, err = await proc.communicate()
    log = err.decode()
    assert proc.returncode == 1
    assert "Traceback" not in log
    assert "cannot write the token file" in log
