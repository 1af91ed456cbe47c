"""``calc-tui [URL]`` and ``calc-tui --serve``: the command line of the Textual client."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Mapping, Sequence

from calc_client.options import (
    INSECURE_WARNING,
    add_name_option,
    add_security_options,
    env_token_problem,
)
from calc_client.security import client_ssl
from calc_local.argtypes import command_line, port, positive_seconds, websocket_url
from calc_local.defaults import DEFAULT_PORT, DEFAULT_URL, default_url
from calc_local.version import add_version_option
from calc_tui.app import CalcApp, make_app
from calc_tui.glyphs import glyphs_for
from calc_tui.hangup import ends_on_hangup


def parser(env: Mapping[str, str] = os.environ) -> argparse.ArgumentParser:
    """The ``calc-tui`` argument parser; the URL defaults to ``CALC_URL``."""
    p = argparse.ArgumentParser(
        prog="calc-tui",
        description="Watch and drive the shared calculation in the terminal. "
        "Keys: s start, c cancel, r reconnect now, e events, o output, h history, w who,"
        " ? help, ctrl+p commands, q quit.",
    )
    add_version_option(p)
    p.add_argument(
        "url",
        nargs="?",
        type=websocket_url,
        default=default_url(env),
        help=f"server WebSocket URL (env CALC_URL, default {DEFAULT_URL})",
    )
    add_name_option(p, env)
    add_security_options(p, env)
    p.add_argument(
        "--serve",
        action="store_true",
        help="also run a server in this process (on 127.0.0.1) and connect to it",
    )
    p.add_argument(
        "--port",
        type=port,
        default=DEFAULT_PORT,
        help="with --serve: the port to serve on (default %(default)s)",
    )
    p.add_argument(
        "--stage-seconds",
        type=positive_seconds,
        default=2.0,
        help="with --serve: seconds per stage (default %(default)s)",
    )
    p.add_argument(
        "--job",
        type=command_line,
        default=None,
        metavar="'COMMAND ARGS...'",
        help="with --serve: run this command as the calculation (as calc-server --job)",
    )
    p.add_argument(
        "--job-cwd", default=None, metavar="DIR", help="with --serve: the job's working directory"
    )
    p.add_argument(
        "--job-grace",
        type=positive_seconds,
        default=10.0,
        metavar="SECONDS",
        help="with --serve: SIGKILL the job this long after a cancel's SIGTERM (default 10)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app; with ``--serve``, next to an embedded server."""
    p = parser()
    args = p.parse_args(argv)
    if args.token is None and (problem := env_token_problem(os.environ)):
        p.error(problem)
    if not args.serve:
        if args.port != DEFAULT_PORT or args.stage_seconds != 2.0:
            p.error("--port and --stage-seconds need --serve")
        if args.job or args.job_cwd:
            p.error("--job and --job-cwd need --serve")
        app = make_app(
            args.url,
            name=args.name,
            token=args.token,
            ssl=client_ssl(args.cafile, args.insecure),
            warning=INSECURE_WARNING if args.insecure else None,
            glyphs=glyphs_for(),
        )
        with ends_on_hangup(app):
            app.run()
        return app.return_code or 0
    from calc_tui.serve import serve_and_run  # the only path that loads calc_server

    def make(url: str, token: str) -> CalcApp:
        return make_app(url, name=args.name, token=token, serving=True, glyphs=glyphs_for())

    return asyncio.run(
        serve_and_run(
            make,
            port=args.port,
            stage_seconds=args.stage_seconds,
            token=args.token or os.environ.get("CALC_TOKEN"),
            job=args.job,
            job_cwd=args.job_cwd,
            job_grace=args.job_grace,
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
