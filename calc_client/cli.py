"""``calc``: control and watch the shared calculation from a shell or a script.

Parses the command line, runs one subcommand over one connection, and turns every outcome
into a documented exit code and at most one plain line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

from calc_client import cli_commands, cli_history, cli_logs
from calc_client.cli_connection import add_connection_options, connection_options, open_link
from calc_client.cli_exit import CommandFailed, ExitCode, write_error
from calc_client.cli_follow import follow
from calc_client.options import env_token_problem
from calc_local.argtypes import at_least_one
from calc_local.version import add_version_option

EXIT_CODES = """\
exit codes:
  0    accepted; with start --wait or logs --follow, the calculation ended SUCCESS
  1    rejected by the server (the reason is on stderr)
  2    cannot connect, or the connection was lost (watch --reconnect: only on a
       final refusal such as a wrong token or path)
  3    start --wait, logs --follow: the calculation ended CANCELED or FAILED
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


def build_parser(env: Mapping[str, str] = os.environ) -> argparse.ArgumentParser:
    """The ``calc`` argument parser; defaults come from ``env``."""
    parser = _Parser(
        prog="calc",
        description="Control and watch the shared calculation without a screen.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version_option(parser)
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
    start.add_argument(
        "--json",
        action="store_true",
        help="print the protocol ack and the state it made (with the calculation id), "
        "then with --wait every state, one JSON message per line",
    )
    cancel = command("cancel", "cancel the running calculation")
    cancel.add_argument(
        "--json",
        action="store_true",
        help="print the protocol ack and the CANCELED state, one JSON message per line",
    )
    watch = command("watch", "print one line per state change until interrupted")
    watch.add_argument(
        "--json",
        action="store_true",
        help="print each protocol state (and a job's output) message as a JSON line",
    )
    watch.add_argument(
        "--reconnect",
        action="store_true",
        help="when the connection is lost, reconnect and go on (across server restarts) "
        "instead of exiting 2",
    )
    past = command("history", "print past runs, newest first")
    past.add_argument("--limit", type=at_least_one, default=20, metavar="N", help="default 20")
    past.add_argument("--json", action="store_true", help="print each run as a JSON line")
    logs = command("logs", "print the output of a job's run (servers started with --job)")
    logs.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing until the run ends; exit 0 on SUCCESS, 3 on CANCELED or FAILED",
    )
    logs.add_argument(
        "--since", type=_offset, metavar="N", help="start at line N of the run (first line: 0)"
    )
    logs.add_argument(
        "--json", action="store_true", help="one JSON object per line: offset, stream, text"
    )
    for sub in (start, logs):
        sub.add_argument(
            "--color",
            choices=["always", "auto", "never"],
            default="never",
            help="keep the job's colours (SGR) on a terminal: auto (if stdout is one), always, "
            "or never (default); every other escape sequence is always removed",
        )
    return parser


def _offset(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a line number (0 or more), got {text!r}")
    return int(text)


def _colors(args: argparse.Namespace) -> bool:
    """Whether to keep a job's colours: ``--color`` said so, for a terminal or always."""
    return args.color == "always" or (args.color == "auto" and sys.stdout.isatty())


async def run(args: argparse.Namespace) -> ExitCode:
    """Connect and run the subcommand named in ``args``."""
    options = connection_options(args)
    timeout = options.timeout
    if args.command == "watch" and args.reconnect:
        return await follow(options, as_json=bool(args.json))
    async with open_link(options) as link:
        match args.command:
            case "status":
                return await cli_commands.status(link, timeout, as_json=bool(args.json))
            case "start":
                return await cli_commands.start(
                    link,
                    timeout,
                    wait=bool(args.wait),
                    as_json=bool(args.json),
                    colors=_colors(args),
                )
            case "cancel":
                return await cli_commands.cancel(link, timeout, as_json=bool(args.json))
            case "watch":
                return await cli_commands.watch(link, as_json=bool(args.json))
            case "history":
                return await cli_history.history(
                    link, timeout, limit=int(args.limit), as_json=bool(args.json)
                )
            case "logs":
                return await cli_logs.logs(
                    link,
                    timeout,
                    follow=bool(args.follow),
                    since=args.since,
                    as_json=bool(args.json),
                    colors=_colors(args),
                )
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
