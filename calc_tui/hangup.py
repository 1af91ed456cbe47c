"""Leave cleanly when the terminal goes away (window closed, SSH link dropped) or on SIGTERM.

A hung-up terminal does not always send a signal: under `make run` only `make` gets SIGHUP,
and the app is left with a dead terminal, a busy input thread, and (in Textual 8) a writer
thread whose bounded queue soon blocks the event loop. So a small thread watches both for
SIGTERM/SIGHUP and for the terminal to stop being one, asks the app to exit, and if the app
has not ended after a grace period (its loop may be blocked), ends the process itself.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from textual.app import App

GRACE = 3.0
"""Seconds the app gets to exit cleanly before the process leaves regardless."""

POLL = 0.5
"""Seconds between checks that the terminal is still there."""


def _terminal_fd() -> int | None:
    stream = sys.__stdin__
    if stream is None:
        return None
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return None
    return fd if os.isatty(fd) else None


@contextmanager
def ends_on_hangup(
    app: App[Any], *, before_abandon: Callable[[], object] = lambda: None
) -> Iterator[None]:
    """While the body runs ``app``, turn SIGTERM, SIGHUP or a lost terminal into ``app.exit``.

    ``before_abandon`` runs (in a thread) just before the process is ended the hard way.
    """
    finished = threading.Event()
    triggered = threading.Event()
    exit_code = [128 + signal.SIGHUP]
    fd = _terminal_fd()

    def on_signal(signum: int, frame: object) -> None:
        exit_code[0] = 128 + signum
        triggered.set()  # the main thread may be stuck; the watcher does the work

    def abandon() -> None:
        before_abandon()
        os._exit(exit_code[0])

    def watch() -> None:
        while not finished.is_set():
            lost = fd is not None and not os.isatty(fd)
            if lost or triggered.wait(POLL):
                break
        if finished.is_set():
            return
        timer = threading.Timer(GRACE, abandon)
        timer.daemon = True
        timer.start()
        with suppress(RuntimeError):  # the app already stopped running
            app.call_from_thread(app.exit)  # blocks if the loop is stuck: the timer decides
        finished.wait()
        timer.cancel()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    watcher = threading.Thread(target=watch, name="calc-tui-hangup", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
