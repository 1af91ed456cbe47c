"""Redis URLs: checking one, opening a client from one, and printing one without its password."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

SCHEMES = frozenset({"redis", "rediss", "unix"})
"""URL schemes redis-py accepts: plain TCP, TLS and a Unix socket."""


def check_url(url: str) -> None:
    """Raise ``ValueError`` saying what is wrong with ``url`` if redis-py cannot use it.

    Nothing is connected: the URL is parsed and one connection object built, which is where
    redis-py refuses an option it does not know (``?ssl_ca_certs=`` and the like pass through
    to the connection). The message never holds the password.
    """
    shown = redacted_url(url)
    if shown == "<unparsable Redis URL>":
        raise ValueError(
            f"--redis {shown}: give redis://HOST:PORT/DB, rediss://HOST:PORT/DB or unix:///PATH"
        )
    try:
        pool = ConnectionPool.from_url(url)
        pool.connection_class(**pool.connection_kwargs)
    except TypeError as error:  # an unknown keyword: the name of a query option
        unknown = re.search(r"argument '(\w+)'", str(error))
        option = repr(unknown.group(1)) if unknown else "an option it was given"
        raise ValueError(f"--redis {shown}: redis-py has no option {option}") from None
    except ValueError as error:
        password = urlsplit(url).password
        reason = "it cannot be used" if password and password in str(error) else str(error)
        raise ValueError(f"--redis {shown}: {reason}") from None


def redacted_url(url: str) -> str:
    """``url`` with any password (and the user name beside it) replaced by ``***``.

    The only form of a Redis URL that may reach a log or an error message. A URL that cannot
    be parsed is replaced whole: it might be nothing but a password.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable Redis URL>"
    if parts.scheme not in SCHEMES:
        return "<unparsable Redis URL>"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username or parts.password:
        netloc = f"***@{netloc}"
    query = "***" if "password" in parts.query.lower() else parts.query
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def open_client(
    url: str,
    *,
    retries: int = 3,
    connect_timeout: float = 2.0,
    name: str | None = None,
    timeout: float | None = None,
) -> Redis:
    """A redis.asyncio client for ``url`` (``redis://``, ``rediss://``, ``unix://``).

    ``retries`` bounds how often one command is retried on a connection error, with jittered
    exponential backoff; 0 makes every connection error reach the caller (the subscriber needs
    that: a silent reconnect would hide the messages missed meanwhile). ``timeout`` bounds
    each reply (None: wait as long as the connection lives; a frozen Redis then hangs the
    caller). Bytes in, bytes out: frames are never decoded.
    """
    return Redis.from_url(
        url,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries),
        socket_connect_timeout=connect_timeout,
        socket_timeout=timeout,
        socket_keepalive=True,
        client_name=name,
        decode_responses=False,
    )
