"""Server settings: command-line flags, each with a ``CALC_*`` environment fallback."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from calc_local.argtypes import at_least_one, command_line, port, positive_seconds
from calc_local.defaults import DEFAULT_HOST, DEFAULT_PORT
from calc_local.loopback import is_loopback


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
    job: tuple[str, ...] | None = None
    """The command run as the calculation (already split); None: the built-in timer."""
    job_cwd: str | None = None
    """The job's working directory; None: the server's."""
    job_grace: float = 10.0
    """Seconds between a cancel's SIGTERM and the SIGKILL to the job's process group."""

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
        if self.max_connections < 1:
            raise ValueError("--max-connections must be at least 1")
        for origin in self.allowed_origins:
            parts = urlsplit(origin)
            if not parts.scheme or not parts.netloc or parts.path or parts.query:
                raise ValueError(
                    f"--allow-origin {origin!r}: give scheme://host[:port] with nothing after "
                    "it, exactly as a browser sends it (e.g. https://example.com)"
                )
        if self.no_auth and not is_loopback(self.host):
            raise ValueError(
                f"--no-auth is only allowed on a loopback address, not {self.host}; "
                "use a token (--token or CALC_TOKEN) to serve other machines"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")


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
        type=port,
        default=env.get("CALC_PORT", DEFAULT_PORT),
        help="port to bind, 0 for any free one (env CALC_PORT, default %(default)s)",
    )
    p.add_argument(
        "--stage-seconds",
        type=positive_seconds,
        default=env.get("CALC_STAGE_SECONDS", 2.0),
        help="duration of each of the three stages (env CALC_STAGE_SECONDS, default %(default)s)",
    )
    p.add_argument(
        "--heartbeat",
        type=positive_seconds,
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
        default=env.get("CALC_NO_AUTH", "") not in ("", "0"),
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
        type=at_least_one,
        default=env.get("CALC_MAX_CONNECTIONS", 10_000),
        help="beyond this, handshakes get HTTP 503 (env CALC_MAX_CONNECTIONS, default %(default)s)",
    )
    p.add_argument(
        "--job",
        type=command_line,
        default=env.get("CALC_JOB"),
        metavar="'COMMAND ARGS...'",
        help="run this command as the calculation instead of the built-in timer; split like a "
        "shell would, run without one (env CALC_JOB)",
    )
    p.add_argument(
        "--job-cwd",
        default=env.get("CALC_JOB_CWD"),
        metavar="DIR",
        help="the job's working directory (env CALC_JOB_CWD, default: the server's)",
    )
    p.add_argument(
        "--job-grace",
        type=positive_seconds,
        default=env.get("CALC_JOB_GRACE", 10.0),
        metavar="SECONDS",
        help="after a cancel's SIGTERM, SIGKILL the job's processes this much later "
        "(env CALC_JOB_GRACE, default %(default)s)",
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
    """Build Settings from flags, falling back to the environment, then to the defaults."""
    ns = parser(env).parse_args(argv)
    return Settings(
        host=ns.host,
        port=ns.port,
        stage_seconds=ns.stage_seconds,
        heartbeat=ns.heartbeat,
        log_level=ns.log_level,
        token=ns.token or None,
        no_auth=ns.no_auth,
        allowed_origins=frozenset(ns.allow_origin),
        tls_cert=ns.tls_cert,
        tls_key=ns.tls_key,
        max_connections=ns.max_connections,
        job=ns.job,
        job_cwd=ns.job_cwd,
        job_grace=ns.job_grace,
    )
