"""Server settings: command-line flags, each with a ``CALC_*`` environment fallback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from calc_server.bounds import out_of_bounds
from calc_server.envflags import BadFlag, env_flag
from calc_server.origins import normalise_origin
from protocol.bearer import token_problem
from protocol.tokenfile import is_loopback

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
EX_USAGE = 64
"""Exit code for a malformed environment variable (sysexits.h EX_USAGE)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server can be told; defaults are the documented ones."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    stage_seconds: float = 2.0
    heartbeat: float = 15.0
    log_level: str = "INFO"
    max_message_bytes: int = 64 * 1024
    rate_burst: int = 20
    rate_per_second: float = 10.0
    send_buffer_limit: int = 64 * 1024
    """A peer with more than this many bytes unsent is skipped by broadcasts (marked behind)."""
    behind_timeout: float = 10.0
    """A peer still behind after this many seconds is cut off."""
    shutdown_timeout: float = 1.0
    token: str | None = None
    """The access token clients must present; None only together with ``no_auth``."""
    no_auth: bool = False
    """Serve without a token (refused unless bound to a loopback address)."""
    allowed_origins: frozenset[str] = frozenset()
    """Origins (exact ``scheme://host[:port]``) whose pages may connect; others get 403."""
    tls_cert: str | None = None
    tls_key: str | None = None
    max_connections: int = 10_000
    handshake_timeout: float = 10.0
    """Seconds a new TCP connection has to complete its HTTP request."""
    refusal_log_interval: float = 10.0
    """Refused requests are logged as at most one summary line per this many seconds."""

    @property
    def tls(self) -> bool:
        """True when serving wss:// and https://."""
        return self.tls_cert is not None

    def check(self) -> None:
        """Raise ``ValueError`` with a plain reason if these settings are unsafe or incomplete."""
        if self.token is None and not self.no_auth:
            raise ValueError("a token is required (or --no-auth on a loopback address)")
        if self.token is not None and self.no_auth:
            raise ValueError(
                "--no-auth and a token (--token or CALC_TOKEN) contradict each other; "
                "give one or the other"
            )
        if self.token is not None and (problem := token_problem(self.token)):
            raise ValueError(f"--token (or CALC_TOKEN): {problem}")
        if self.max_connections < 1:
            raise ValueError("--max-connections must be at least 1")
        if problem := out_of_bounds(self):
            raise ValueError(problem)
        for origin in self.allowed_origins:
            if normalise_origin(origin) != origin:  # raises ValueError if it is no origin
                raise ValueError(
                    f"--allow-origin {origin!r} can never match: give scheme://host[:port] "
                    f"exactly as a browser sends it, {normalise_origin(origin)!r}"
                )
        if self.no_auth and not is_loopback(self.host):
            raise ValueError(
                f"--no-auth is only allowed on a loopback address, not {self.host}; "
                "use a token (--token or CALC_TOKEN) to serve other machines"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, got {text!r}")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def _origins(given: list[str]) -> list[str]:
    """The origins as a browser sends them; one that is not an origin stops the server (64)."""
    try:
        return [normalise_origin(origin) for origin in given]
    except ValueError as exc:
        sys.stderr.write(f"calc-server: error: {exc}\n")
        raise SystemExit(EX_USAGE) from None


def parser(env: Mapping[str, str] = os.environ) -> argparse.ArgumentParser:
    """The ``calc-server`` argument parser, with defaults taken from ``env``."""
    p = argparse.ArgumentParser(
        prog="calc-server",
        description="Serve one shared calculation over WebSocket (ws://HOST:PORT/ws).",
    )
    p.add_argument(
        "--host",
        default=env.get("CALC_HOST", DEFAULT_HOST),
        help="address to bind (env CALC_HOST, default %(default)s)",
    )
    p.add_argument(
        "--port",
        type=_port,
        default=env.get("CALC_PORT", DEFAULT_PORT),
        help="port to bind, 0 for any free one (env CALC_PORT, default %(default)s)",
    )
    p.add_argument(
        "--stage-seconds",
        type=_positive_float,
        default=env.get("CALC_STAGE_SECONDS", 2.0),
        help="duration of each of the three stages (env CALC_STAGE_SECONDS, default %(default)s)",
    )
    p.add_argument(
        "--heartbeat",
        type=_positive_float,
        default=env.get("CALC_HEARTBEAT", 15.0),
        help="seconds between pings; a silent peer is dropped within two "
        "(env CALC_HEARTBEAT, default %(default)s)",
    )
    p.add_argument(
        "--token",
        default=env.get("CALC_TOKEN"),
        help="access token clients must send (env CALC_TOKEN; default: a random one, "
        "written to the token file)",
    )
    p.add_argument(
        "--no-auth",
        action="store_true",
        default=env_flag(env, "CALC_NO_AUTH"),
        help="no token at all; refused unless --host is a loopback address (env CALC_NO_AUTH)",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[o for o in env.get("CALC_ALLOW_ORIGINS", "").split(",") if o],
        metavar="ORIGIN",
        help="a browser origin allowed to connect, exact match, repeatable "
        "(env CALC_ALLOW_ORIGINS, comma-separated); handshakes from other origins get 403",
    )
    p.add_argument(
        "--tls-cert",
        default=env.get("CALC_TLS_CERT"),
        help="PEM certificate chain: serve wss:// and https:// (env CALC_TLS_CERT)",
    )
    p.add_argument(
        "--tls-key", default=env.get("CALC_TLS_KEY"), help="PEM private key (env CALC_TLS_KEY)"
    )
    p.add_argument(
        "--max-connections",
        type=_count,
        default=env.get("CALC_MAX_CONNECTIONS", 10_000),
        help="beyond this, handshakes get HTTP 503 (env CALC_MAX_CONNECTIONS, default %(default)s)",
    )
    p.add_argument(
        "--log-level",
        default=env.get("CALC_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
        help="(env CALC_LOG_LEVEL, default %(default)s)",
    )
    return p


def parse_settings(
    argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ
) -> Settings:
    """Build Settings from flags, falling back to the environment, then to the defaults.

    A malformed boolean environment variable exits 64 (EX_USAGE) with one line on stderr.
    """
    try:
        p = parser(env)
    except BadFlag as exc:
        sys.stderr.write(f"calc-server: error: {exc}\n")
        raise SystemExit(EX_USAGE) from None
    ns = p.parse_args(argv)
    return Settings(
        host=ns.host,
        port=ns.port,
        stage_seconds=ns.stage_seconds,
        heartbeat=ns.heartbeat,
        log_level=ns.log_level,
        token=ns.token or None,
        no_auth=ns.no_auth,
        allowed_origins=frozenset(_origins(ns.allow_origin)),
        tls_cert=ns.tls_cert,
        tls_key=ns.tls_key,
        max_connections=ns.max_connections,
    )
