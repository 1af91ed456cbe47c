"""Protocol v1 messages: one tagged union per direction.

Every class has an explicit ``tag`` so that renaming a class never changes the wire; the
constraints live in the types so the JSON Schema says what the decoder enforces.
"""

from __future__ import annotations

import enum
from typing import Annotated

from msgspec import Meta, Struct

PROTOCOL_VERSION = 1
"""The protocol version spoken by this package."""

STAGES = 3
"""Number of timed stages in a calculation (STARTING, IN_PROGRESS, ALMOST_DONE)."""

RequestId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        description="Client-chosen id, echoed in the ack. 1 to 64 characters.",
    ),
]
_INVISIBLE = (
    # Unicode category Cf (format: zero-width, joiners, bidi controls, tags), Zl and Zp
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    # blank letters that render as nothing: Hangul fillers, combining grapheme joiner
    "\u034f\u115f\u1160\u3164\uffa0"
)
CLIENT_NAME_PATTERN = f"^[^\x00-\x1f\x7f-\x9f{_INVISIBLE}]+$"
"""Client names carry no control, format (Unicode Cf: zero-width, bidi) or invisible
characters: they end up in logs and on other users' terminals, where a padded or reordered
name could pass for another client's."""

ClientName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        pattern=CLIENT_NAME_PATTERN,
        description="Client name, 1 to 64 characters, no control, format (Cf) or "
        "invisible characters.",
    ),
]
Count = Annotated[int, Meta(ge=0)]
Seconds = Annotated[float, Meta(ge=0)]


class Phase(enum.Enum):
    """The state of the shared calculation."""

    IDLE = "IDLE"
    STARTING = "STARTING"
    IN_PROGRESS = "IN_PROGRESS"
    ALMOST_DONE = "ALMOST_DONE"
    SUCCESS = "SUCCESS"
    CANCELED = "CANCELED"
    FAILED = "FAILED"

    @property
    def running(self) -> bool:
        """True while the calculation is in one of its timed stages."""
        return self in _RUNNING

    @property
    def terminal(self) -> bool:
        """True for the end states, which only a new start leaves."""
        return self in _TERMINAL


_RUNNING = frozenset({Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE})
_TERMINAL = frozenset({Phase.SUCCESS, Phase.CANCELED, Phase.FAILED})


class _Message(Struct, tag_field="type"):
    """Base of every protocol message: JSON object with a ``type`` tag."""


# --- client -> server ---------------------------------------------------------------------


class Hello(_Message, tag="hello", kw_only=True):
    """Optional first message: names the client and states its protocol version."""

    protocol: int
    client: ClientName | None = None


class Start(_Message, tag="start", kw_only=True):
    """Ask the server to start a calculation."""

    request_id: RequestId


class Cancel(_Message, tag="cancel", kw_only=True):
    """Ask the server to cancel a calculation; null ``calculation_id`` means the running one."""

    request_id: RequestId
    calculation_id: str | None = None


class Sync(_Message, tag="sync", kw_only=True):
    """Ask the server to send the current ``state`` again."""

    request_id: RequestId


ClientMessage = Hello | Start | Cancel | Sync
"""Every message a client may send."""


# --- server -> client ---------------------------------------------------------------------


class Welcome(_Message, tag="welcome", kw_only=True):
    """First message on every connection."""

    protocol: int
    server: str
    epoch: str
    client_id: str
    clients: Count


class State(_Message, tag="state", kw_only=True):
    """Full snapshot of the calculation; sent after every change and on request."""

    seq: Count
    epoch: str
    calculation_id: str | None
    state: Phase
    stage: Annotated[int, Meta(ge=0, le=STAGES)]
    stages: int = STAGES
    stage_elapsed: Seconds
    stage_duration: Seconds
    started_by: str | None = None
    ended_by: str | None = None


class Ack(_Message, tag="ack", kw_only=True):
    """Answer to every start, cancel and sync."""

    request_id: str
    accepted: bool
    reason: str | None = None
    seq: Count


class Error(_Message, tag="error", kw_only=True):
    """Bad input or a refused operation; ``message`` says what was wrong."""

    code: str
    message: str
    request_id: str | None = None


class Presence(_Message, tag="presence", kw_only=True):
    """How many clients are connected; sent whenever one connects or leaves."""

    clients: Count


ServerMessage = Welcome | State | Ack | Error | Presence
"""Every message the server may send."""
