"""Server settings: command-line flags, each with a ``CALC_*`` environment fallback."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from calc_local.argtypes import at_least_one, command_line, port, positive_seconds
from calc_local.defaults import DEFAULT_HOST, DEFAULT_PORT
from calc_local.loopback import is_loopback
from calc_local.statedir import state_dir
from calc_local.version import add_version_option
from calc_server.bounds import out_of_bounds
from calc_server.cluster.url import check_url
from calc_server.envflags import BadFlag, env_flag
from calc_server.history import DEFAULT_KEEP, default_history_path
from calc_server.origins import normalise_origin
from calc_server.presence import PRESENCE_DELAY
from protocol.bearer import token_problem

NODE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
"""What a cluster node's name may be: it goes into Redis keys, the lease and the welcome."""
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
    presence_delay: float = PRESENCE_DELAY
    """Seconds a presence broadcast waits so close connects and leaves share it (tests use 0:
    one presence per change, as when connects are far apart)."""
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
    redis_url: str | None = field(default=None, repr=False)
    """Cluster mode: the shared Redis (``redis://``, ``rediss://``, ``unix://``); None runs a
    single server with no Redis. May hold a password: never printed but through
    ``redacted_url`` (hence no repr)."""
    node: str | None = None
    """Cluster mode: this node's name (default: host name and process id)."""
    lease_seconds: float = 3.0
    """Cluster mode: how long a dead run owner keeps its lease (the failover bound)."""
    workers: int = 1
    """Server processes to start on one port (more than one needs ``redis_url``)."""
    reuse_port: bool = False
    """Bind with SO_REUSEPORT, so several processes share the port (what ``workers`` does)."""
    parent_fd: int | None = None
    """A worker of ``--workers``: the read end of a pipe whose write end only the parent holds;
    its EOF says the parent is gone (however it died), and the worker shuts down."""
    history: Path | None = None
    """The run history file (SQLite); None keeps the history in memory only, lost at exit (in
    cluster mode: in Redis, and a file is refused)."""
    history_keep: int = DEFAULT_KEEP
    """Runs the history keeps: the newest ones (in a file, in memory or in Redis)."""
    refusal_log_interval: float = 10.0
    """Refused requests are logged as at most one summary line per this many seconds."""
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
        self._check_cluster()
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
        if self.history_keep < 1:
            raise ValueError("--history-keep must be at least 1")

    def _check_cluster(self) -> None:
        if self.workers < 1:
            raise ValueError("--workers must be at least 1")
        if self.workers > 1 and self.redis_url is None:
            raise ValueError(
                "--workers needs --redis: the workers share one calculation through Redis"
            )
        if self.redis_url is None:
            return
        if self.history is not None:
            raise ValueError(CLUSTER_HISTORY_REFUSED)
        check_url(self.redis_url)
        if self.token is None or self.no_auth:
            raise ValueError(
                "cluster mode (--redis) needs --token (or CALC_TOKEN): every node must accept "
                "the same token, so none may generate its own"
            )
        if self.node is not None and not NODE_PATTERN.fullmatch(self.node):
            raise ValueError(f"--node must match {NODE_PATTERN.pattern}")
        if not self.lease_seconds > 0:
            raise ValueError("--lease-seconds must be positive")


CLUSTER_HISTORY_REFUSED = (
    "--history is not used in cluster mode (--redis): the run history is kept in Redis, "
    "the newest --history-keep runs; leave --history (and CALC_HISTORY) out"
)


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
    add_version_option(p)
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
        type=at_least_one,
        default=env.get("CALC_MAX_CONNECTIONS", 10_000),
        help="beyond this, handshakes get HTTP 503 (env CALC_MAX_CONNECTIONS, default %(default)s)",
    )
    p.add_argument(
        "--redis",
        default=env.get("CALC_REDIS_URL"),
        metavar="URL",
        help="cluster mode: share the calculation with every calc-server using this Redis "
        "(redis://[:PASSWORD@]HOST:PORT/DB, rediss://... for TLS) and the same --token; "
        "prefer the environment for a URL with a password (env CALC_REDIS_URL)",
    )
    p.add_argument(
        "--workers",
        type=at_least_one,
        default=env.get("CALC_WORKERS", 1),
        help="start this many server processes on one port (SO_REUSEPORT); needs --redis "
        "(env CALC_WORKERS, default %(default)s)",
    )
    p.add_argument(
        "--node",
        default=env.get("CALC_NODE"),
        help="cluster mode: this node's name in logs and welcome messages "
        "(env CALC_NODE, default: host name and process id)",
    )
    p.add_argument(
        "--lease-seconds",
        type=positive_seconds,
        default=env.get("CALC_LEASE_SECONDS", 3.0),
        help="cluster mode: how long a lost run owner keeps its lease before another node "
        "takes the run over (env CALC_LEASE_SECONDS, default %(default)s)",
    )
    p.add_argument(
        "--reuse-port",
        action="store_true",
        default=env_flag(env, "CALC_REUSE_PORT"),
        help="bind with SO_REUSEPORT so other processes may share the port, as --workers "
        "does for each worker (env CALC_REUSE_PORT)",
    )
    # internal, for the workers of --workers: see Settings.parent_fd
    p.add_argument("--parent-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--history",
        default=env.get("CALC_HISTORY"),
        metavar="PATH",
        help="the run history file, or 'none' to keep it in memory only (env CALC_HISTORY; "
        "default history-PORT.sqlite3 in the state directory, memory only with --port 0; "
        "not with --redis, where it is kept in Redis)",
    )
    p.add_argument(
        "--history-keep",
        type=at_least_one,
        default=env.get("CALC_HISTORY_KEEP", DEFAULT_KEEP),
        metavar="N",
        help="keep the newest N runs (env CALC_HISTORY_KEEP, default %(default)s)",
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
    """Build Settings from flags, falling back to the environment, then to the defaults.

    A malformed boolean environment variable exits 64 (EX_USAGE) with one line on stderr.
    """
    try:
        p = parser(env)
    except BadFlag as exc:
        sys.stderr.write(f"calc-server: error: {exc}\n")
        raise SystemExit(EX_USAGE) from None
    ns = p.parse_args(argv)
    if ns.redis and ns.history:
        sys.stderr.write(f"calc-server: error: {CLUSTER_HISTORY_REFUSED}\n")
        raise SystemExit(EX_USAGE)
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
        redis_url=ns.redis or None,
        node=ns.node or None,
        lease_seconds=ns.lease_seconds,
        workers=ns.workers,
        reuse_port=ns.reuse_port,
        parent_fd=ns.parent_fd,
        history=None if ns.redis else history_file(ns.history, ns.port, env),
        history_keep=ns.history_keep,
        job=ns.job,
        job_cwd=ns.job_cwd,
        job_grace=ns.job_grace,
    )


def history_file(option: str | None, port: int, env: Mapping[str, str]) -> Path | None:
    """The history file ``--history`` names; None for ``none``.

    Unset, it is ``history-PORT.sqlite3`` in the state directory, except with ``--port 0``:
    a file named after a port picked at random would never be opened again, so a restart
    could not find its runs; such a server keeps its history in memory. (A cluster keeps its
    history in Redis: no file.)
    """
    if option is None or option == "":
        if port == 0:
            return None
        return default_history_path(state_dir(env), port)
    if option == "none":
        return None
    return Path(option).expanduser()
