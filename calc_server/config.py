"""Server settings: command-line flags, each with a ``CALC_*`` environment fallback."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


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


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, got {text}")
    return value


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
    )
