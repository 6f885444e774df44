from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.adapters.append_rows import envelope_json
from shared.events import EVENT_TYPES, Envelope
from shared.events.codec import (
    DecodeError,
    from_json,
    from_kafka,
    stored_to_kafka,
    to_json,
    to_kafka,
)
from shared.events.types import EventSpec, TicketOpened, register_upcaster, unregister_upcaster


def opened(**overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "type": "ticket.opened",
        "source": "intake",
        "subject": "tkt-1",
        "time": datetime(2026, 3, 6, 17, 0, tzinfo=timezone(timedelta(hours=-8))),
        "sequence": 1,
        "account": "acme",
        "policy": "hosted-voice@1",
        "data": {"channel": "email", "priority": "p2", "contact": "noc@acme.example"},
    }
    fields.update(overrides)
    return Envelope(**fields)


def test_envelope_validates_payload_of_its_type() -> None:
    with pytest.raises(ValueError, match="channel"):
        opened(data={"priority": "p2"})
    with pytest.raises(ValueError, match="unknown event type"):
        opened(type="ticket.exploded")


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        opened(time=datetime(2026, 3, 6, 17, 0))


def test_policy_must_be_pinned_with_version() -> None:
    with pytest.raises(ValueError, match="voipster@3"):
        opened(policy="hosted-voice")
    assert opened().policy_id == "hosted-voice"
    assert opened().policy_version == 1


def test_envelope_is_immutable() -> None:
    env = opened()
    with pytest.raises(ValueError):
        env.sequence = 2  # type: ignore[misc]


def test_payload_is_typed() -> None:
    payload = opened().payload()
    assert isinstance(payload, TicketOpened)
    assert payload.priority == "p2"


def test_kafka_record_uses_ticket_key_and_ce_headers() -> None:
    env = opened()
    record = to_kafka(env)
    headers = dict(record.headers)
    assert record.key == b"tkt-1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"ticket.opened"
    assert headers["ce_id"] == str(env.id).encode()
    assert headers["ce_sequence"] == b"1"
    assert headers["ce_policy"] == b"hosted-voice@1"
    assert headers["content-type"] == b"application/json"
    assert "_" not in "".join(name[3:] for name in headers if name.startswith("ce_"))


def test_malformed_kafka_records_raise_decode_error() -> None:
    record = to_kafka(opened())
    with pytest.raises(DecodeError, match="ce_type"):
        from_kafka(record.key, record.value, [])
    with pytest.raises(DecodeError, match="not JSON"):
        from_kafka(record.key, b"{nope", record.headers)
    with pytest.raises(DecodeError, match="key"):
        from_kafka(b"other-ticket", record.value, record.headers)
    with pytest.raises(DecodeError):
        from_json(b"[1, 2]")


def test_upcaster_turns_old_payload_into_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(EVENT_TYPES, "ticket.opened", EventSpec(TicketOpened, schema_version=2))

    @register_upcaster("ticket.opened", 1)
    def severity_to_priority(data: dict[str, Any]) -> dict[str, Any]:
        data = dict(data)
        data["priority"] = data.pop("severity")
        return data

    try:
        env = opened(schema_version=1, data={"channel": "web", "severity": "p1"})
        assert env.schema_version == 2
        assert env.data["priority"] == "p1"
        with pytest.raises(ValueError, match="newer"):
            opened(schema_version=3)
    finally:
        unregister_upcaster("ticket.opened", 1)


# --- round trips ------------------------------------------------------------------------------

aware_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
) | st.builds(
    lambda dt, minutes: dt.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
text = st.text(min_size=1, max_size=40)
payloads = st.sampled_from(
    [
        (
            "ticket.opened",
            st.fixed_dictionaries(
                {"channel": st.sampled_from(["web", "email", "phone", "api"]), "priority": text},
                optional={"plan": text, "spam": st.booleans(), "subject": text},
            ),
        ),
        ("ticket.comment_added", st.fixed_dictionaries({"body": text, "public": st.booleans()})),
        ("ticket.severity_changed", st.fixed_dictionaries({"priority": text})),
        ("ticket.responded", st.fixed_dictionaries({}, optional={"by": text})),
        (
            "ticket.closed_by_timeout",
            st.fixed_dictionaries({"based_on_version": st.integers(min_value=1, max_value=10**6)}),
        ),
    ]
).flatmap(lambda pair: st.tuples(st.just(pair[0]), pair[1]))

envelopes = st.builds(
    lambda typed, subject, when, recorded, seq, account, corr: Envelope(
        type=typed[0],
        source="intake",
        subject=subject,
        time=when,
        recorded_at=recorded,
        sequence=seq,
        account=account,
        policy="voipster@1",
        correlation_id=corr,
        data=typed[1],
    ),
    payloads,
    st.text(alphabet="abcdef0123456789-", min_size=1, max_size=36),
    aware_times,
    st.none() | aware_times,
    st.integers(min_value=1, max_value=10**9),
    text,
    st.none() | st.uuids(),
)


@given(envelopes)
def test_json_round_trip(env: Envelope) -> None:
    assert from_json(to_json(env)) == env


@given(envelopes)
def test_kafka_round_trip(env: Envelope) -> None:
    record = to_kafka(env)
    assert from_kafka(record.key, record.value, list(record.headers)) == env


@given(envelopes)
def test_a_stored_envelope_becomes_the_same_kafka_record(env: Envelope) -> None:
    """The outbox relay's shortcut (no model rebuilt) gives the bytes `to_kafka` gives."""
    stored = orjson.loads(envelope_json(env))
    assert stored_to_kafka(stored, env.recorded_at) == to_kafka(env)


def test_a_stored_envelope_of_an_older_schema_is_upcast_on_its_way_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = orjson.loads(envelope_json(opened()))
    stored["data"] = {"channel": "web", "severity": "p1"}  # as written under schema 1
    monkeypatch.setitem(EVENT_TYPES, "ticket.opened", EventSpec(TicketOpened, schema_version=2))

    @register_upcaster("ticket.opened", 1)
    def severity_to_priority(data: dict[str, Any]) -> dict[str, Any]:
        return {"channel": data["channel"], "priority": data["severity"]}

    try:
        record = stored_to_kafka(stored, datetime(2026, 3, 2, 9, tzinfo=UTC))
        assert orjson.loads(record.value)["priority"] == "p1"
        assert ("ce_schemaversion", b"2") in record.headers
    finally:
        unregister_upcaster("ticket.opened", 1)


def test_event_id_defaults_to_fresh_uuid() -> None:
    assert isinstance(opened().id, uuid.UUID)
    assert opened().id != opened().id
