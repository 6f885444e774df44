"""An SLA or escalation event can reach notify before the ticket's opening: the page still
names the ticket number the event carries, never the internal UUID."""

from __future__ import annotations

import uuid

import pytest

from services.notify.domain.routing import Source
from services.notify.service_layer.planning import _with_number

pytestmark = pytest.mark.unit


def source(body: dict[str, object]) -> Source:
    return Source(uuid.uuid4(), "escalation.raised", "t-1", "acme", body)


def test_an_unseen_ticket_is_numbered_from_the_event() -> None:
    ticket = _with_number({}, source({"ticket_number": "TF-261117"}))
    assert ticket["number"] == "TF-261117"


def test_the_number_notify_knows_is_kept() -> None:
    known = {"number": "TF-100001"}
    assert _with_number(known, source({"ticket_number": "TF-261117"}))["number"] == "TF-100001"


def test_an_event_without_a_number_changes_nothing() -> None:
    assert _with_number({"contact": "a@b.example"}, source({})) == {"contact": "a@b.example"}
