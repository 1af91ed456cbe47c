"""Something other than a file planted at the token path: one error line, no traceback."""

from __future__ import annotations

from pathlib import Path

from calc_local.tokenfile import remove_token, token_path
from tests.processes import clean_env, free_port, refused


def test_remove_token_leaves_a_directory_alone(tmp_path: Path) -> None:
    env = {"CALC_TOKEN_DIR": str(tmp_path)}
    token_path(4242, env).mkdir(parents=True)
    remove_token(4242, env)  # does not raise
    assert token_path(4242, env).is_dir()


async def test_directory_at_the_token_path_gives_one_line_and_no_traceback(
    tmp_path: Path,
) -> None:
    env = clean_env(CALC_TOKEN_DIR=str(tmp_path))
    port = free_port()  # a fixed port is needed to plant the directory first
    token_path(port, env).mkdir(parents=True)
    ended = await refused("--port", str(port), env=env)
    log = ended.stderr
    assert ended.code == 1
    assert "Traceback" not in log
    assert "cannot write the token file" in log
