"""A token file belongs to the exact address its server listens on.

Another local user listening on the other loopback address with the same port must never
receive the token, and two servers on one port but different addresses never share or
clobber a token file.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from calc_local.tokenfile import read_token, token_path
from tests.client.calc_process import run_calc
from tests.processes import clean_env
from tests.security.test_token_file import start_server

NOBODY = 65534


ROGUE = """
import os, socket, sys
# drop to another user first when we can (as root): the listener is a different local user
if os.getuid() == 0:
    os.setgid({uid}); os.setuid({uid})
listener = socket.socket(socket.AF_INET6)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("::1", {port}))
listener.listen()
print("listening as uid", os.getuid(), flush=True)
listener.settimeout(20)
try:
    conn, _ = listener.accept()
except socket.timeout:
    print("nothing", flush=True)
    sys.exit()
conn.settimeout(5)
data = b""
while b"\\r\\n\\r\\n" not in data:
    chunk = conn.recv(4096)
    if not chunk:
        break
    data += chunk
print("got", data.decode(errors="replace").replace("\\r\\n", "|"), flush=True)
"""


async def rogue_listener(port: int) -> asyncio.subprocess.Process:
    """Another user listening on [::1]:port, printing the request it receives."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ROGUE.format(uid=NOBODY, port=port),
        stdout=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    async with asyncio.timeout(10):
        line = (await proc.stdout.readline()).decode()
    assert line.startswith("listening as uid"), line
    if os.getuid() == 0:
        assert line.split()[-1] == str(NOBODY)
    return proc


async def what_rogue_got(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        out = (await proc.stdout.read()).decode()
        await proc.wait()
    return out


async def test_the_token_is_never_sent_to_another_loopback_address(tmp_path: Path) -> None:
    env = clean_env(CALC_TOKEN_DIR=str(tmp_path / "tokens"))
    server = await start_server(env)  # on 127.0.0.1
    port = server.port
    rogue = None
    try:
        token = read_token(port, env)
        assert token
        rogue = await rogue_listener(port)
        # the reported leak: calc sent the 127.0.0.1 server's token to [::1]
        await run_calc("status", "--url", f"ws://[::1]:{port}/ws", "--timeout", "3", env=env)
        got = await what_rogue_got(rogue)
        assert got.startswith("got GET /ws")
        assert token not in got
        assert "authorization" not in got.lower()
        # and "localhost" dials the address the token belongs to, wherever it resolves first
        rogue = await rogue_listener(port)
        joined = await run_calc("status", "--url", f"ws://localhost:{port}/ws", env=env)
        assert joined.code == 0, joined.stderr
        rogue.kill()
        assert token not in await what_rogue_got(rogue)
    finally:
        if rogue is not None and rogue.returncode is None:
            rogue.kill()
            await rogue.wait()
        await server.shut_down()


async def test_servers_on_one_port_and_two_addresses_keep_their_own_files(
    tmp_path: Path,
) -> None:
    env = clean_env(CALC_TOKEN_DIR=str(tmp_path / "tokens"))
    first = await start_server(env)  # 127.0.0.1
    port = first.port
    try:
        first_token = read_token(port, env)
        second = await start_server(env, "--host", "::1", "--port", str(port))
        second_token = read_token(port, env, host="::1")
        assert second_token
        assert second_token != first_token
        assert read_token(port, env) == first_token  # not overwritten
        await second.shut_down()
        assert not token_path(port, env, host="::1").exists()
        assert read_token(port, env) == first_token  # not deleted by the other server
        done = await run_calc("status", "--url", f"ws://127.0.0.1:{port}/ws", env=env)
        assert done.code == 0, done.stderr
    finally:
        await first.shut_down()
