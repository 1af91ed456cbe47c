"""A newer server's unknown message types and fields are skipped, never a protocol failure."""

from __future__ import annotations

import logging

import pytest

from calc_client.link import connect
from protocol import Phase, State
from tests.client.calc_process import run_calc
from tests.newer_server import newer_server


async def test_link_skips_an_unknown_type_and_logs_it_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="calc_client.link")
    async with newer_server() as url:
        link = await connect(url, name="tester")
        async with link:
            assert link.welcome.features == ["jobs", "history"]
            first = await anext(link)
    assert isinstance(first, State)
    assert first.state is Phase.IDLE
    skipped = [r for r in caplog.records if "does not know" in r.getMessage()]
    assert [r.levelno for r in skipped] == [logging.DEBUG]
    assert "job_output" in skipped[0].getMessage()


async def test_calc_status_reads_past_an_unknown_type() -> None:
    async with newer_server() as url:
        result = await run_calc("status", "--url", url)
    assert result.code == 0, result.stderr
    assert result.lines == ["IDLE, no calculation has run yet"]
    assert result.stderr == ""
