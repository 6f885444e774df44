"""The consumer-side reader: attribute checks, upcasting, dedup by ce_id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.common.topic_reader import (
    ContractViolation,
    Deduplicator,
    attributes,
    read_record,
)
from shared.events import Envelope
from shared.events.codec import to_kafka
from shared.events.sla import SlaEvent, sla_event_id
from shared.topics import SLA_EVENTS, TICKET_EVENTS

AT = datetime(2026, 11, 16, 11, 0, tzinfo=UTC)
TICKET = str(uuid.UUID(int=42))


def sla_record() -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return SlaEvent(
        id=sla_event_id(TICKET, "sla.breached", "first_response", AT),
        type="sla.breached",
        ticket_id=TICKET,
        ticket_number="TF-1",
        account="acme",
        policy="voximplant@1",
        priority="sev2",
        metric="first_response",
        at=AT,
        emitted_at=AT,
        based_on_version=2,
    ).to_record()


def test_an_sla_record_reads_with_its_attributes_and_payload() -> None:
    key, value, headers = sla_record()
    record = read_record(SLA_EVENTS.name, key, value, headers)
    assert record["attributes"]["ce_type"] == "sla.breached"
    assert record["payload"]["ticket_number"] == "TF-1"


def test_a_ticket_event_reads_through_the_envelope_codec() -> None:
    envelope = Envelope(
        type="ticket.opened",
        source="intake",
        subject=TICKET,
        time=AT,
        sequence=1,
        account="acme",
        policy="voximplant@1",
        data={"channel": "web", "priority": "sev2", "plan": "gold"},
    )
    kafka = to_kafka(envelope)
    record = read_record(TICKET_EVENTS.name, kafka.key, kafka.value, list(kafka.headers))
    assert record["payload"]["id"] == str(envelope.id)
    assert record["payload"]["data"]["priority"] == "sev2"


def test_a_record_with_only_a_type_header_breaks_the_contract() -> None:
    key, value, _ = sla_record()
    with pytest.raises(ContractViolation, match="ce_specversion, ce_id"):
        read_record(SLA_EVENTS.name, key, value, [("ce_type", b"sla.breached")])


def test_a_record_whose_key_is_not_its_subject_breaks_the_contract() -> None:
    _, value, headers = sla_record()
    with pytest.raises(ContractViolation, match="ce_subject"):
        read_record(SLA_EVENTS.name, b"another", value, headers)


def test_a_time_without_offset_breaks_the_contract() -> None:
    _, _, headers = sla_record()
    naive = [(n, b"2026-11-16T11:00:00" if n == "ce_time" else v) for n, v in headers]
    with pytest.raises(ContractViolation, match="UTC offset"):
        attributes(naive)


def test_dedup_remembers_ids_within_its_capacity() -> None:
    seen = Deduplicator(capacity=2)
    assert seen.first_time("a") and not seen.first_time("a")
    assert seen.first_time("b") and seen.first_time("c")
    assert seen.first_time("a")  # forgotten: oldest beyond capacity
