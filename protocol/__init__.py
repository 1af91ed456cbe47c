"""The calc wire contract, protocol v1: message types, decoders and the JSON Schema.

Pure: imports msgspec and the standard library only, so any client can reuse it.
"""

from protocol.codec import client_decoder, encode, server_decoder
from protocol.codes import AckReason, ErrorCode, RunOutcome
from protocol.messages import (
    PROTOCOL_VERSION,
    STAGES,
    WHO_LIMIT,
    Ack,
    Cancel,
    ClientMessage,
    ClusterStatus,
    ConnectedClient,
    Error,
    Hello,
    History,
    HistoryQuery,
    OutputLine,
    Phase,
    Presence,
    Run,
    ServerMessage,
    Start,
    State,
    Sync,
    Welcome,
    Who,
    WhoAnswer,
)

__all__ = [
    "PROTOCOL_VERSION",
    "STAGES",
    "WHO_LIMIT",
    "Ack",
    "AckReason",
    "Cancel",
    "ClientMessage",
    "ClusterStatus",
    "ConnectedClient",
    "Error",
    "ErrorCode",
    "Hello",
    "History",
    "HistoryQuery",
    "OutputLine",
    "Phase",
    "Presence",
    "Run",
    "RunOutcome",
    "ServerMessage",
    "Start",
    "State",
    "Sync",
    "Welcome",
    "Who",
    "WhoAnswer",
    "client_decoder",
    "encode",
    "server_decoder",
]
