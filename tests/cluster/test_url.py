"""A Redis URL's password never reaches a log: ``redacted_url`` and the logs of a real cluster."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

import pytest

from calc_server.cluster.epoch import ensure_epoch
from calc_server.cluster.keys import Keys
from calc_server.cluster.lease import Lease
from calc_server.cluster.record import StateRecord
from calc_server.cluster.state import Change, SharedState
from calc_server.cluster.subscriber import Subscriber
from calc_server.cluster.url import check_url, open_client, redacted_url
from tests.cluster.frames import state_frame
from tests.cluster.waiting import LinkEvents
from tests.processes import refused
from tests.redis_server import RedisServer


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:hunter2@127.0.0.1:6379/1", "redis://***@127.0.0.1:6379/1"),
        ("rediss://user:hunter2@cache.example:6380", "rediss://***@cache.example:6380"),
        ("redis://hunter2@host/0", "redis://***@host/0"),
        ("redis://[::1]:6379/0?password=hunter2", "redis://[::1]:6379/0?***"),
        ("unix:///run/redis.sock?db=2", "unix:///run/redis.sock?db=2"),
        ("hunter2", "<unparsable Redis URL>"),
        ("redis://:hunter2@host:notaport/0", "<unparsable Redis URL>"),
    ],
)
def test_redacted_url_shows_where_but_never_the_password(url: str, shown: str) -> None:
    assert redacted_url(url) == shown
    assert "hunter2" not in redacted_url(url)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        (
            "redis://:hunter2@127.0.0.1:6379/0?fo0=1",
            "redis://***@127.0.0.1:6379/0?fo0=1: redis-py has no option 'fo0'",
        ),
        ("redis://:hunter2@127.0.0.1/0?db=x", "Invalid value for 'db' in connection URL."),
        ("http://127.0.0.1:6379/0", "give redis://HOST:PORT/DB"),
        ("redis://:hunter2@host:notaport/0", "<unparsable Redis URL>: give redis://"),
    ],
)
def test_a_url_redis_py_cannot_use_is_refused_saying_what_is_wrong(
    url: str, complaint: str
) -> None:
    with pytest.raises(ValueError, match=r"^--redis ") as error:
        check_url(url)
    assert complaint in str(error.value)
    assert "hunter2" not in str(error.value)


def test_options_redis_py_knows_pass() -> None:
    check_url("rediss://:hunter2@cache.example:6380/0?ssl_ca_certs=/etc/ca.pem")
    check_url("unix:///run/redis.sock?db=2")


async def test_an_unknown_url_option_stops_the_server_with_one_line_and_exit_2() -> None:
    url = "redis://:hunter2@127.0.0.1:1/0?fo0=1"
    result = await refused("--token", "t" * 32, "--redis", url)
    assert result.code == 2
    assert result.stderr.count("\n") == 1
    assert "redis-py has no option 'fo0'" in result.stderr
    assert "hunter2" not in result.stderr


async def test_no_log_line_carries_the_password_through_connect_loss_and_reconnect(
    redis_factory: Callable[..., RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG, including redis-py's own, while a password-protected Redis is
    used, lost, restarted, and tried with a wrong password."""
    caplog.set_level(logging.DEBUG)
    password = f"pw-{uuid.uuid4().hex}"
    server = redis_factory(password=password)
    keys = Keys()
    client = open_client(server.url)
    state = SharedState(client, keys)
    links = LinkEvents()
    delivered: list[StateRecord] = []
    subscriber = Subscriber(
        server.url, keys, state, on_change=delivered.append, on_link=links.changed
    )
    task = asyncio.create_task(subscriber.run())
    wrong = Subscriber(
        server.url.replace(password, "not-the-password"),
        keys,
        state,
        on_change=delivered.append,
        retry_delay=0.01,
        retry_cap=0.05,
    )
    wrong_task = asyncio.create_task(wrong.run())
    try:
        await links.wait_for(True)
        epoch = await ensure_epoch(client, keys)
        lease = Lease(client, keys, node="node-a")
        grant = await lease.acquire()
        assert grant is not None
        change = Change(epoch, None, 0, state_frame(epoch, 0), fence=grant.token)
        assert (await state.transition(change)).applied
        server.stop()
        await links.wait_for(False)
        server.start()
        await links.wait_for(True)
    finally:
        task.cancel()
        wrong_task.cancel()
        await asyncio.gather(task, wrong_task, return_exceptions=True)
        await client.aclose()
    assert not wrong.linked
    assert redacted_url(server.url) in caplog.text, "the URL was logged, redacted"
    assert password not in caplog.text
    assert "not-the-password" not in caplog.text
