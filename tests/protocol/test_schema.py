"""The committed JSON Schema is exactly what ``python -m protocol.schema`` prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from protocol import schema

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "protocol.schema.json"
REGENERATE = "regenerate it: python -m protocol.schema > docs/protocol.schema.json"


def test_committed_schema_matches_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == schema.render(), REGENERATE


def test_module_prints_the_same_text() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "protocol.schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert result.stdout == schema.render()
    assert result.stderr == ""


def test_schema_names_every_message_of_both_directions() -> None:
    defs = json.loads(schema.render())["$defs"]

    def tags(union: str) -> set[str]:
        refs = [ref["$ref"].rsplit("/", 1)[1] for ref in defs[union]["anyOf"]]
        return {defs[name]["properties"]["type"]["enum"][0] for name in refs}

    assert tags("ClientMessage") == {"hello", "start", "cancel", "sync", "history", "logs", "who"}
    assert tags("ServerMessage") == {
        "welcome",
        "state",
        "ack",
        "error",
        "presence",
        "history",
        "cluster",
        "output",
        "who",
    }


def test_schema_states_the_request_id_limits() -> None:
    request_id = json.loads(schema.render())["$defs"]["Start"]["properties"]["request_id"]
    assert (request_id["minLength"], request_id["maxLength"]) == (1, 64)
