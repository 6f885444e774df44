"""The checked-in contracts are what the models generate."""

from __future__ import annotations

import json

from shared.events.contracts import CONTRACTS_DIR, stale
from shared.events.types import EVENT_TYPES


def test_checked_in_contracts_match_the_models() -> None:
    assert stale() == [], "run `ticketflow schemas write` and commit the result"


def test_every_event_type_has_a_schema_and_an_asyncapi_message() -> None:
    document = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text())
    assert document["asyncapi"].startswith("3.")
    messages = document["components"]["messages"]
    for event_type, spec in EVENT_TYPES.items():
        assert (CONTRACTS_DIR / "schemas" / f"{event_type}.v{spec.schema_version}.json").exists()
        assert messages[event_type.replace(".", "_")]["name"] == event_type
    opened = json.loads((CONTRACTS_DIR / "schemas" / "ticket.opened.v1.json").read_text())
    assert {"channel", "priority"} <= set(opened["required"])
