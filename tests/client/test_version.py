"""``--version`` on every console script: name and version from the package metadata, exit 0."""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.client.calc_process import clean_env


@pytest.mark.parametrize("command", ["calc", "calc-tui", "calc-server"])
async def test_version_prints_name_and_version_and_exits_0(command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name(command)),
        "--version",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert out.decode() == f"{command} {version('calc')}\n"
    assert err == b""
