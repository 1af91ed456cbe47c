"""``--redis rediss://...``: a node reaches Redis over TLS and checks its certificate.

The bundled redis-server is built without TLS, so the test puts a TLS front of its own (the
standard library's, with a trustme certificate) before a real Redis, as a managed Redis or
stunnel would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import trustme

from protocol import Phase, Start, State
from tests.cluster.nodes import cluster_of
from tests.cluster.test_nodes import BOUND
from tests.processes import ServerProcess
from tests.redis_server import RedisServer


class TlsFront:
    """Accepts TLS on a loopback port and relays the plain bytes to Redis at ``port``."""

    def __init__(self, port: int, cert: trustme.LeafCert) -> None:
        self._port = port
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self._context)
        self.sessions = 0
        """Connections that completed a TLS handshake."""
        self._relays: set[asyncio.Task[None]] = set()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        try:
            upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", self._port)
        except OSError:
            writer.close()
            return

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(1 << 16):
                    sink.write(data)
                    await sink.drain()
            except (OSError, ssl.SSLError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream), pipe(upstream_reader, writer))

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        try:
            await self._relay(reader, writer)
        finally:
            self._relays.discard(task)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[int]:
        """Listen while inside; yields the port."""
        server = await asyncio.start_server(self._accepted, "127.0.0.1", 0, ssl=self._context)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            server.close()
            for task in list(self._relays):
                task.cancel()
            await asyncio.gather(*self._relays, return_exceptions=True)


async def _refused(*args: str, auth: str) -> str:
    """The log of a ``calc-server ARGS`` that must exit before listening (stopped if not)."""
    try:
        started = await ServerProcess.start(*args, auth=auth)
    except RuntimeError as error:
        return str(error)
    await started.stop()
    raise AssertionError("the node started")


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


async def test_a_rediss_url_reaches_redis_over_tls_and_keeps_its_password_out_of_the_log(
    redis_factory: Callable[..., RedisServer], ca: trustme.CA, tmp_path: Path
) -> None:
    password = "tls-s3cret-" + "y" * 10
    redis = redis_factory(password=password)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    front = TlsFront(redis.port, ca.issue_cert("127.0.0.1"))
    async with front.serving() as port:
        url = f"rediss://:{password}@127.0.0.1:{port}/0?ssl_ca_certs={ca_file}"
        async with cluster_of(url, stage_seconds=0.3) as cluster:
            node = await cluster.node("a", "--log-level", "DEBUG")
            client = await cluster.client("a")
            sent = await client.send(Start(request_id="go"))
            go = await client.ack("go", since=sent, timeout=BOUND)
            done = await client.expect(
                State, lambda s: s.state is Phase.SUCCESS, since=sent, timeout=BOUND
            )
        sessions = front.sessions
        # without the CA, the front's certificate is not trusted: the node does not start
        untrusted = url.partition("?")[0]
        refused = await _refused("--redis", untrusted, auth="t")

    log = "".join(node.log)
    assert go.accepted
    assert done.calculation_id is not None
    assert sessions >= 2, "the node's clients (commands and pub/sub) came through TLS"
    assert f"rediss://***@127.0.0.1:{port}" in log
    assert password not in log
    assert f"cannot reach Redis at rediss://***@127.0.0.1:{port}" in refused
    assert password not in refused
