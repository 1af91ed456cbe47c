"""``--version`` on every console script: name and version from the package metadata, exit 0."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from tests.processes import clean_env, run_to_exit, script


@pytest.mark.parametrize("command", ["calc", "calc-tui", "calc-server"])
async def test_version_prints_name_and_version_and_exits_0(command: str) -> None:
    ended = await run_to_exit(script(command), "--version", env=clean_env(), timeout=30)
    assert ended.code == 0, ended.stderr
    assert ended.stdout == f"{command} {version('calc')}\n"
    assert ended.stderr == ""
