"""The checked-in contracts are what the models generate."""

from __future__ import annotations

import json

from shared.events.contracts import CONTRACTS_DIR, RECORDS, stale
from shared.events.published import REQUIRED
from shared.events.types import EVENT_TYPES


def test_checked_in_contracts_match_the_models() -> None:
    assert stale() == [], "run `ticketflow schemas write` and commit the result"


def test_every_event_type_has_a_schema_and_an_asyncapi_message() -> None:
    document = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text())
    assert document["asyncapi"] == "3.1.0"
    messages = document["components"]["messages"]
    for event_type, spec in EVENT_TYPES.items():
        assert (CONTRACTS_DIR / "schemas" / f"{event_type}.v{spec.schema_version}.json").exists()
        assert messages[event_type.replace(".", "_")]["name"] == event_type
    opened = json.loads((CONTRACTS_DIR / "schemas" / "ticket.opened.v1.json").read_text())
    assert {"channel", "priority"} <= set(opened["required"])


def test_every_record_message_describes_the_cloudevents_headers_and_deduplication() -> None:
    document = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text())
    messages = document["components"]["messages"]
    for topic, key, *_ in RECORDS:
        headers = messages[key]["headers"]
        assert set(REQUIRED) | {"content-type"} <= set(headers["properties"]), topic
        assert headers["required"] == list(REQUIRED), topic
        assert "ce_id" in messages[key]["summary"], topic
        channel = document["channels"][topic.removeprefix("ticketflow.")]
        assert "Deduplicate by ce_id" in channel["description"], topic
