"""Generate the JSON Schema of protocol v1: ``python -m protocol.schema``."""

from __future__ import annotations

from typing import Any

import msgspec

from protocol.codes import AckReason, ErrorCode, RunOutcome
from protocol.messages import PROTOCOL_VERSION, ClientMessage, ServerMessage


def schema() -> dict[str, Any]:
    """Return the JSON Schema of both directions, with shared definitions under ``$defs``."""
    (client, server, *_), components = msgspec.json.schema_components(
        [ClientMessage, ServerMessage, AckReason, ErrorCode, RunOutcome],
        ref_template="#/$defs/{name}",
    )
    components["ClientMessage"] = client
    components["ServerMessage"] = server
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"calc protocol v{PROTOCOL_VERSION}",
        "description": "One JSON message per WebSocket text frame, tagged by its 'type' field. "
        "A client ignores message types and fields it does not know.",
        "anyOf": [{"$ref": "#/$defs/ClientMessage"}, {"$ref": "#/$defs/ServerMessage"}],
        "$defs": dict(sorted(components.items())),
    }


def render() -> str:
    """The schema as the exact text committed in docs/protocol.schema.json."""
    return msgspec.json.format(msgspec.json.encode(schema()), indent=2).decode() + "\n"


if __name__ == "__main__":
    print(render(), end="")
