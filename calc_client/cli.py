"""``calc``: control and watch the shared calculation from a shell or a script.

Parses the command line, runs one subcommand over one connection, and turns every outcome
into a documented exit code and at most one plain line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn
from urllib.parse import urlsplit

from calc_client import cli_commands
from calc_client.cli_commands import CommandFailed, ConnectionOptions, ExitCode, write_error
from calc_client.link import DEFAULT_URL
from calc_client.options import (
    INSECURE_WARNING,
    add_security_options,
    env_token_problem,
    positive_seconds,
)
from calc_client.security import client_ssl

DEFAULT_TIMEOUT = 5.0
"""Seconds allowed for connecting and for each answer, unless ``--timeout`` says otherwise."""

EXIT_CODES = """\
exit codes:
  0    accepted; with start --wait, the calculation ended SUCCESS
  1    rejected by the server (the reason is on stderr)
  2    cannot connect, or the connection was lost
  3    start --wait: the calculation ended CANCELED or FAILED
  64   usage error (unknown option, bad value)
  130  interrupted (Ctrl-C)
  141  standard output closed by its reader (for example piped into head)

example:
  calc start --wait; case $? in 0) echo done;; 3) echo canceled or failed;; *) exit 1;; esac
"""


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on exit code 64, so that 2 always means a connection problem."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def client_name() -> str:
    """The name sent in ``hello``: ``calc@HOST``, cut to the protocol's 64 characters."""
    return f"calc@{socket.gethostname()}"[:64]


def _ws_url(text: str) -> str:
    scheme = urlsplit(text).scheme.lower()
    if scheme not in ("ws", "wss"):
        raise argparse.ArgumentTypeError(f"must be a ws:// or wss:// URL, got {text!r}")
    return text


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
        type=_ws_url,
        default=default(env.get("CALC_URL") or DEFAULT_URL),
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
    add_security_options(group, env, with_defaults=with_defaults)


def connection_options(args: argparse.Namespace) -> ConnectionOptions:
    """``ConnectionOptions`` from parsed arguments; warns on stderr about ``--insecure``."""
    if args.insecure:
        write_error(f"warning: {INSECURE_WARNING}")
    return ConnectionOptions(
        url=str(args.url),
        timeout=float(args.timeout),
        name=client_name(),
        token=args.token,
        ssl=client_ssl(args.cafile, bool(args.insecure)),
    )


def build_parser(env: Mapping[str, str] = os.environ) -> argparse.ArgumentParser:
    """The ``calc`` argument parser; defaults come from ``env``."""
    parser = _Parser(
        prog="calc",
        description="Control and watch the shared calculation without a screen.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_options(parser, env, with_defaults=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_connection_options(sub, env, with_defaults=False)
        return sub

    status = command("status", "print the current state once")
    status.add_argument(
        "--json", action="store_true", help="print the protocol state message as JSON"
    )
    start = command("start", "start a calculation")
    start.add_argument(
        "--wait",
        action="store_true",
        help="follow the calculation to its end; exit 0 on SUCCESS, 3 on CANCELED or FAILED",
    )
    command("cancel", "cancel the running calculation")
    watch = command("watch", "print one line per state change until interrupted")
    watch.add_argument(
        "--json", action="store_true", help="print each protocol state message as a JSON line"
    )
    return parser


async def run(args: argparse.Namespace) -> ExitCode:
    """Connect and run the subcommand named in ``args``."""
    async with cli_commands.open_inbox(connection_options(args)) as inbox:
        match args.command:
            case "status":
                return await cli_commands.status(inbox, as_json=bool(args.json))
            case "start":
                return await cli_commands.start(inbox, wait=bool(args.wait))
            case "cancel":
                return await cli_commands.cancel(inbox)
            case "watch":
                return await cli_commands.watch(inbox, as_json=bool(args.json))
    raise AssertionError(f"unknown command {args.command!r}")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``calc`` and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.token is None and (problem := env_token_problem(os.environ)):
        parser.error(problem)  # exit 64, one line: the token would break the handshake
    try:
        return asyncio.run(run(args))
    except CommandFailed as exc:
        write_error(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
