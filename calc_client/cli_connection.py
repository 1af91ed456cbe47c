"""How ``calc`` reaches the server: the connection options, opening the link, bounded waits.

Every failure to connect, or to hear an answer in time, becomes ``CommandFailed`` with exit
code 2 and one line saying why.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ssl import SSLContext

import aiohttp

from calc_client.cli_exit import CommandFailed, ExitCode, write_error
from calc_client.link import ConnectFailed, Link, connect
from calc_client.options import INSECURE_WARNING, add_name_option, add_security_options
from calc_client.security import client_ssl
from calc_local.argtypes import positive_seconds, websocket_url
from calc_local.defaults import DEFAULT_URL, default_url
from protocol import PROTOCOL_VERSION, ServerMessage, Welcome

DEFAULT_TIMEOUT = 5.0
"""Seconds allowed for connecting and for each answer, unless ``--timeout`` says otherwise."""


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """How to reach the server: everything the common command-line options say."""

    url: str
    timeout: float
    """Seconds allowed for connecting, and for each answer the server owes a command."""
    name: str
    """Sent in ``hello``; the server names this client so in ``started_by``/``ended_by``."""
    token: str | None = None
    """The access token; None means CALC_TOKEN or the local token file."""
    ssl: SSLContext | bool = True
    """TLS verification for wss:// (see ``calc_client.security.client_ssl``)."""


def add_connection_options(
    parser: argparse.ArgumentParser, env: Mapping[str, str], *, with_defaults: bool
) -> None:
    """The options every subcommand shares: where the server is and how to reach it.

    They are accepted before and after the subcommand; the copies after it have no defaults,
    so they override the ones before only when given. New connection options (token, TLS)
    belong here and in ``connection_options``.
    """

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    group = parser.add_argument_group("connection options")
    group.add_argument(
        "--url",
        type=websocket_url,
        default=default(default_url(env)),
        help=f"server WebSocket URL (env CALC_URL, default {DEFAULT_URL})",
    )
    group.add_argument(
        "--timeout",
        type=positive_seconds,
        default=default(DEFAULT_TIMEOUT),
        metavar="SECONDS",
        help=f"give up connecting (or waiting for an answer) after this long "
        f"(default {DEFAULT_TIMEOUT:g})",
    )
    add_name_option(group, env, with_defaults=with_defaults)
    add_security_options(group, env, with_defaults=with_defaults)


def connection_options(args: argparse.Namespace) -> ConnectionOptions:
    """``ConnectionOptions`` from parsed arguments; warns on stderr about ``--insecure``."""
    if args.insecure:
        write_error(f"warning: {INSECURE_WARNING}")
    return ConnectionOptions(
        url=str(args.url),
        timeout=float(args.timeout),
        name=str(args.name),
        token=args.token,
        ssl=client_ssl(args.cafile, bool(args.insecure)),
    )


@asynccontextmanager
async def open_link(options: ConnectionOptions) -> AsyncIterator[Link]:
    """Connect (within ``options.timeout``, handshake included) and yield the link."""
    try:
        async with asyncio.timeout(options.timeout):
            link = await connect(
                options.url,
                name=options.name,
                timeout=options.timeout,
                token=options.token,
                ssl=options.ssl,
            )
    except ConnectFailed as exc:
        raise CommandFailed(
            ExitCode.DISCONNECTED, f"cannot connect to {options.url}: {connect_reason(exc.reason)}"
        ) from None
    except TimeoutError:
        raise CommandFailed(
            ExitCode.DISCONNECTED,
            f"cannot connect to {options.url}: timed out after {options.timeout:g}s",
        ) from None
    try:
        check_protocol(link.welcome)
        yield link
    except BrokenPipeError:
        raise  # our stdout, not the connection: main() turns it into exit code 141
    except (ConnectionError, aiohttp.ClientError) as exc:
        raise CommandFailed(ExitCode.DISCONNECTED, f"connection lost: {exc}") from None
    finally:
        await link.aclose()


def check_protocol(welcome: Welcome) -> None:
    """Raise ``CommandFailed`` (exit 2) unless the server speaks this client's protocol."""
    if welcome.protocol != PROTOCOL_VERSION:
        raise CommandFailed(
            ExitCode.DISCONNECTED,
            f"server speaks protocol {welcome.protocol}, this calc speaks {PROTOCOL_VERSION}",
        )


def connect_reason(reason: str) -> str:
    """A ``ConnectFailed`` reason without the "cannot connect" the caller already says."""
    return reason.removeprefix("cannot connect: ")


async def next_message(link: Link) -> ServerMessage:
    """The next server message; raises ``CommandFailed`` (exit 2) once the link has closed."""
    try:
        return await anext(link)
    except StopAsyncIteration:
        raise CommandFailed(
            ExitCode.DISCONNECTED, f"connection lost: {link.close_reason}"
        ) from None


@asynccontextmanager
async def answer_deadline(timeout: float, waiting_for: str) -> AsyncIterator[None]:
    """Bound a wait for something the server owes us by ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            yield
    except TimeoutError:
        raise CommandFailed(
            ExitCode.DISCONNECTED, f"timed out after {timeout:g}s waiting for {waiting_for}"
        ) from None
