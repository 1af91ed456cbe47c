"""The logger aiohttp's HTTP layer writes to: one plain line per failure, never a traceback.

aiohttp logs a malformed request as an ERROR with a traceback whose text quotes the offending
header, so ``Authorization: Bearer <token>\\x01`` put the real token in the log. Records here
keep only what is safe to share: the peer, the kind of failure and where it was raised.
"""

from __future__ import annotations

import logging
import os

from aiohttp.http_exceptions import HttpProcessingError

REQUEST_LOG = logging.getLogger("calc_server.http")
"""Passed to aiohttp as the request handler's logger (``AppRunner(logger=...)``)."""


def _where(exc: BaseException) -> str:
    """``file.py:line`` of the innermost frame: enough to find a bug, no values from the request."""
    tb = exc.__traceback__
    if tb is None:
        return "?"
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"


class _NoTracebacks(logging.Filter):
    """Turns every record that carries an exception into one line without its text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info:
            return True
        exc = record.exc_info[1]
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        if isinstance(exc, HttpProcessingError):
            # the peer's fault: its message quotes the request, so only the status is kept
            record.msg = "refused a malformed HTTP request from %s (%d %s)"
            record.args = (remote, exc.code, type(exc).__name__)
            record.levelno, record.levelname = logging.INFO, "INFO"
        elif isinstance(exc, ConnectionError):
            # the peer went away while it was being answered: ordinary, not a server error
            record.msg = "connection from %s lost during its request (%s)"
            record.args = (remote, type(exc).__name__)
            record.levelno, record.levelname = logging.INFO, "INFO"
        elif exc is not None:
            record.msg = "error handling a request from %s: %s at %s"
            record.args = (remote, type(exc).__name__, _where(exc))
        return True


REQUEST_LOG.addFilter(_NoTracebacks())
