"""Protocol v1 messages: one tagged union per direction.

Every class has an explicit ``tag`` so that renaming a class never changes the wire; the
constraints live in the types so the JSON Schema says what the decoder enforces.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct, field

from protocol.codes import AckReason, ErrorCode, RunOutcome

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
Feature = Annotated[str, Meta(min_length=1, max_length=64)]


def _code(codes: type[enum.StrEnum], description: str) -> Meta:
    """A string field whose known values are ``codes``: the schema names them, the decoder
    accepts any string, so a code added later never makes a message unreadable."""
    return Meta(
        description=description,
        extra_json_schema={"$ref": f"#/$defs/{codes.__name__}"},
    )


AckReasonCode = Annotated[str, _code(AckReason, "Why the command was refused.")]
ErrorCodeText = Annotated[str, _code(ErrorCode, "What the error is about.")]
RunOutcomeText = Annotated[str, _code(RunOutcome, "How the run ended.")]
Seconds = Annotated[float, Meta(ge=0)]
Fraction = Annotated[float, Meta(ge=0.0, le=1.0)]


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


class HistoryQuery(_Message, tag="history", kw_only=True):
    """Ask for past runs, newest first (feature ``"history"``).

    A page of up to ``limit`` runs older than run ``before`` (the newest when null), without
    output tails; or, with ``calculation_id``, that one run with its output tail.
    """

    request_id: RequestId
    limit: Annotated[int, Meta(ge=1, le=100, description="Runs per page, 1 to 100.")] = 20
    before: str | None = None
    calculation_id: str | None = None


class Logs(_Message, tag="logs", kw_only=True):
    """Ask for the kept output lines of the current run (or of ``calculation_id``, if kept).

    Answered by one ``output`` carrying this ``request_id``; ``since`` null means the last
    ``limit`` lines, an offset means the lines from there on (as many as fit one frame).
    """

    request_id: RequestId
    since: Count | None = None
    limit: Annotated[int, Meta(ge=1, le=1000)] = 100
    calculation_id: str | None = None


class Who(_Message, tag="who", kw_only=True):
    """Ask who is connected; answered by a server ``who``. Offered when features has "who"."""

    request_id: RequestId


ClientMessage = (
    Hello | Start | Cancel | Sync
    | HistoryQuery
    | Logs
    | Who
)  # fmt: skip
"""Every message a client may send."""


# --- server -> client ---------------------------------------------------------------------


class Welcome(_Message, tag="welcome", kw_only=True, omit_defaults=True):
    """First message on every connection."""

    protocol: int
    server: str
    epoch: str
    client_id: str
    clients: Count
    features: list[Feature] = field(default_factory=list)
    """Capabilities beyond protocol 1 that this server offers. Left out of the frame when
    empty, so a welcome reads the same as from a server that predates the field."""
    node: str | None = None
    """Cluster mode: which node (server process) this connection is served by; left out of the
    frame by a single server."""
    last_run: Run | None = None
    """The newest run in the history that has ended (no output tail), so a client learns at
    once how it ended, INTERRUPTED included; left out when there is none."""


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
    progress: Fraction | None = None
    """The run as a fraction: the job's reported progress, or the timer's stage-based one."""
    message: Annotated[str, Meta(max_length=200)] | None = None
    """The job's last message (its report, or why it failed); untrusted text."""
    exit_code: int | None = None
    """How the job's run ended: its exit code, or minus the signal that killed it."""
    canceling: bool = False
    """A cancel was asked for and the job's processes have not all exited yet."""


class Ack(_Message, tag="ack", kw_only=True):
    """Answer to every start, cancel and sync."""

    request_id: str
    accepted: bool
    reason: AckReasonCode | None = None
    seq: Count


class Error(_Message, tag="error", kw_only=True):
    """Bad input or a refused operation; ``message`` says what was wrong."""

    code: ErrorCodeText
    message: str
    request_id: str | None = None


class Presence(_Message, tag="presence", kw_only=True):
    """How many clients are connected; sent whenever one connects or leaves."""

    clients: Count


class ClusterStatus(_Message, tag="cluster", kw_only=True):
    """Cluster mode: whether this node can reach the shared store; sent when that changes.

    ``degraded`` true: the node keeps the connection and shows the last state it knows, but
    refuses ``start`` and ``cancel`` (``backplane_unavailable``) until it reaches the store
    again. A joiner is sent one right after its first ``state`` while the node is degraded.
    """

    degraded: bool


class OutputLine(Struct, kw_only=True):
    """One line a job wrote: ``stream`` is ``"out"`` or ``"err"``. Untrusted text: may hold
    escapes, so a client makes it terminal-safe before showing it."""

    stream: str
    text: str


class Run(Struct, kw_only=True):
    """One run in the history. Times are UTC wall-clock epoch seconds.

    ``ended_at``, ``outcome`` and ``ended_by`` are null while the run is open. The last four
    fields are set for real jobs only; ``output_tail`` is empty in pages (ask for the run).
    """

    calculation_id: str
    started_by: str
    started_at: float
    ended_at: float | None = None
    outcome: RunOutcomeText | None = None
    ended_by: str | None = None
    stage_seconds: list[Seconds] = field(default_factory=list)
    command: str | None = None
    exit_code: int | None = None
    last_message: str | None = None
    output_tail: list[OutputLine] = field(default_factory=list)


class History(_Message, tag="history", kw_only=True):
    """Answer to ``history``: runs newest first, and whether older ones exist beyond them."""

    request_id: str
    runs: list[Run]
    more: bool


class Output(_Message, tag="output", kw_only=True, omit_defaults=True):
    """Lines of a job's run: ``lines[0]`` is line number ``offset`` of the run (from 0).

    Broadcast in batches as the job prints, sent after ``state`` to a client that connects,
    and in answer to ``logs`` (then with its ``request_id``). A gap between the offsets a
    client received means it missed lines; ``logs`` fetches them while they are kept.
    """

    calculation_id: str | None
    offset: Count
    lines: list[OutputLine]
    request_id: str | None = None


WHO_LIMIT = 1000
"""Most clients one ``who`` answer lists; ``total`` still counts them all."""


class ConnectedClient(Struct, kw_only=True):
    """One connected client in a ``who`` answer."""

    client_id: str
    name: str | None = None
    """The name its ``hello`` gave, if any."""
    connected_at: datetime
    """When its WebSocket was accepted: wall clock, UTC, RFC 3339."""


class WhoAnswer(_Message, tag="who", kw_only=True):
    """Answer to a client ``who``: the connected clients, in the order they connected."""

    request_id: str
    clients: Annotated[list[ConnectedClient], Meta(max_length=WHO_LIMIT)]
    total: Count
    """How many are connected; more than ``len(clients)`` when the list was capped."""


ServerMessage = (
    Welcome | State | Ack | Error | Presence
    | ClusterStatus
    | History
    | Output
    | WhoAnswer
)  # fmt: skip
"""Every message the server may send."""
