"""Options shared by the ``calc`` and ``calc-tui`` command lines: the name, token and TLS."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from calc_local import argtypes
from calc_local.defaults import default_client_name
from protocol.bearer import token_problem


def bearer_token(text: str) -> str:
    """An argparse type: a token that can travel in an ``Authorization: Bearer`` header."""
    if problem := token_problem(text):
        raise argparse.ArgumentTypeError(problem)
    return text


def env_token_problem(env: Mapping[str, str]) -> str | None:
    """Why ``CALC_TOKEN`` cannot be used, or None when it is unset, empty or fine."""
    token = env.get("CALC_TOKEN")
    problem = token_problem(token) if token else None
    return f"CALC_TOKEN: {problem}" if problem else None


INSECURE_WARNING = "--insecure: the server's TLS certificate is NOT verified"
"""What clients say, every time, when certificate checks are off."""


def add_security_options(
    group: argparse._ActionsContainer, env: Mapping[str, str], *, with_defaults: bool = True
) -> None:
    """``--token``, ``--cafile`` and ``--insecure``, shared by ``calc`` and ``calc-tui``.

    Without defaults (``argparse.SUPPRESS``) an option is only set when given, so a copy
    after a subcommand overrides the one before it only then.
    """

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    group.add_argument(
        "--token",
        type=bearer_token,
        default=default(None),
        help="access token (default: env CALC_TOKEN, else the local server's token file "
        "when the URL is on this machine)",
    )
    group.add_argument(
        "--cafile",
        default=default(env.get("CALC_CAFILE")),
        metavar="PEM",
        help="trust this CA or self-signed certificate for wss:// (env CALC_CAFILE)",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        default=default(False),
        help="do NOT verify the server's TLS certificate (anyone on the path can pose as it)",
    )


def add_name_option(
    group: argparse._ActionsContainer, env: Mapping[str, str], *, with_defaults: bool = True
) -> None:
    """``--name``: how other clients and the server's log see this one (``started_by``)."""
    group.add_argument(
        "--name",
        type=argtypes.client_name,
        default=default_client_name(env) if with_defaults else argparse.SUPPRESS,
        help="the name others see in started_by/ended_by, up to 64 characters "
        "(env CALC_NAME, default USER@HOST)",
    )
