"""Every record the services publish carries the CloudEvents binary-mode attributes that the
AsyncAPI document requires, taken from the record itself (deterministic `ce_id`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.commands import TicketCommand
from shared.events.escalation import EscalationEvent
from shared.events.notification import NotificationEvent
from shared.events.published import REQUIRED, MissingAttribute, record_headers
from shared.events.sla import SlaEvent, sla_event_id

AT = datetime(2026, 11, 16, 11, 0, tzinfo=UTC)
TICKET = "0b5c7e0e-3f0e-4d53-9d1b-7c5d1b0f2a11"


def as_dict(headers: list[tuple[str, bytes]]) -> dict[str, str]:
    return {name: raw.decode() for name, raw in headers}


def test_an_sla_record_carries_every_required_attribute_with_its_own_id() -> None:
    event = SlaEvent(
        id=sla_event_id(TICKET, "sla.breached", "first_response", AT),
        type="sla.breached",
        ticket_id=TICKET,
        account="acme",
        policy="voipster@1",
        priority="high",
        metric="first_response",
        at=AT,
        emitted_at=AT,
        based_on_version=3,
    )
    key, _, headers = event.to_record()
    got = as_dict(headers)
    assert set(REQUIRED) <= set(got)
    assert got["ce_id"] == str(event.id)
    assert got["ce_type"] == "sla.breached"
    assert got["ce_source"] == "sla"
    assert got["ce_subject"] == TICKET == key.decode()
    assert got["ce_time"] == "2026-11-16T11:00:00Z"
    assert got["ce_specversion"] == "1.0"
    assert got["ce_account"] == "acme" and got["ce_policy"] == "voipster@1"
    assert got["content-type"] == "application/json"


def test_a_command_is_timed_by_when_it_was_issued() -> None:
    command = TicketCommand(
        type="close_by_timeout",
        ticket_id=uuid.UUID(TICKET),
        based_on_version=4,
        issued_at=AT,
        due_at=AT,
    )
    got = as_dict(command.headers())
    assert got["ce_id"] == str(command.id) and got["ce_time"] == "2026-11-16T11:00:00Z"
    assert got["ce_type"] == "close_by_timeout" and got["ce_subject"] == TICKET


@pytest.mark.parametrize("model", [EscalationEvent, NotificationEvent])
def test_escalation_and_notification_models_have_the_fields_the_attributes_come_from(
    model: type,
) -> None:
    fields = set(model.model_fields)
    assert {"id", "type", "ticket_id", "at"} <= fields


def test_a_record_without_its_id_or_time_is_refused_not_published_bare() -> None:
    with pytest.raises(MissingAttribute, match="ce_id"):
        record_headers({"type": "x.y", "ticket_id": TICKET, "at": AT}, "notify")
    with pytest.raises(MissingAttribute, match="ce_time"):
        record_headers({"id": "1", "type": "x.y", "ticket_id": TICKET}, "notify")
