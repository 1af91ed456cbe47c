"""The installed version of the calc distribution, and the ``--version`` every command has."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "calc"
"""The distribution all three commands come from (pyproject's ``name``)."""


def installed_version() -> str:
    """The version from the package metadata; ``0+unknown`` in a never-installed source tree."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"


def add_version_option(parser: argparse.ArgumentParser) -> None:
    """``--version``: print ``PROG VERSION`` on stdout and exit 0."""
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
