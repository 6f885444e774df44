"""Billing events on notify (issue 18): `prepaid.low`, `prepaid.exhausted` and
`tam.budget_exhausted` email the account's approved contacts, one template each (overridable
per account, validated against its samples); charges and the TAM budget warning are not
emailed; webhook subscribers get the billing types they ask for; a redelivered event notifies
once; an undecodable record is a bad message (dead-lettered). On the fakes of
`test_notify_service_layer.py`, the default templates rendered for real."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from services.common.consumer import BadMessage
from services.notify.adapters.templates import Templates
from services.notify.domain.routing import (
    ACCOUNT_TEMPLATES,
    TEMPLATES,
    Audience,
    Source,
    Subscription,
    to_people,
)
from services.notify.domain.template_samples import BILLING_EVENT_OF, sample_context
from services.notify.domain.templating import TemplateError
from services.notify.entrypoints.consumer import TOPICS, NotifyConsumer
from shared.events.billing import (
    BillingEvent,
    ChargeBody,
    PrepaidBody,
    TamBody,
    billing_event_id,
)
from shared.events.notification import notification_id
from shared.topics import BILLING
from tests.unit.test_notify_service_layer import FakeLog, FakePlanning, admin, planner

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
CONTACTS = ["NOC@acme.example", "billing@acme.example", "noc@acme.example"]


@dataclass
class Record:
    topic: str
    key: bytes
    value: bytes | None
    headers: list[tuple[str, bytes]]


def billing(kind: str, account: str = "acme", ticket: str = "t-1") -> BillingEvent:
    body: dict[str, Any] = {}
    if kind.startswith("prepaid."):
        balance = 0 if kind == "prepaid.exhausted" else 45
        body["prepaid"] = PrepaidBody(balance_minutes=balance, low_at_minutes=60)
    elif kind.startswith("tam."):
        body["tam"] = TamBody(month="2026-11", used_minutes=480, budget_hours=8)
    else:
        body["charge"] = ChargeBody(
            charge_id=uuid.uuid4(),
            ticket_id=ticket,
            rule="ess_emergency_rate",
            basis="hours",
            amount="200.00",
            currency="USD",
            worked_minutes=60,
            billed_minutes=60,
            prepaid_minutes=0,
            month="2026-11",
            source="Support will continue at emergency rates ...",
        )
    return BillingEvent.model_validate(
        {
            "id": billing_event_id(kind, account, ticket),
            "type": kind,
            "account": account,
            "policy": "voximplant@1" if kind.startswith("tam.") else "voice1@1",
            "ticket_id": ticket,
            "at": AT,
            "causation_id": uuid.uuid4(),
            **body,
        }
    )


def record(event: BillingEvent) -> Record:
    """As billing's outbox publishes it: key = the ticket, value = the event's JSON."""
    return Record(
        BILLING.name,
        event.ticket_id.encode(),
        event.model_dump_json().encode(),
        [("ce_type", event.type.encode())],
    )


def store_with_contacts() -> FakePlanning:
    store = FakePlanning()
    store.contacts["acme"] = list(CONTACTS)
    store.tickets["t-1"] = {
        "ticket_id": "t-1",
        "account": "acme",
        "number": "TF-100001",
        "contact": "caller@acme.example",
    }
    return store


def test_notify_reads_the_billing_topic() -> None:
    assert BILLING.name in TOPICS


async def test_prepaid_exhausted_emails_each_approved_contact_once_even_when_redelivered() -> None:
    store = store_with_contacts()
    use_case, templates, commits = planner(store)
    consumer = NotifyConsumer(use_case)
    event = billing("prepaid.exhausted")
    assert await consumer.handle(record(event)) == "planned"
    assert await consumer.handle(record(event)) == "duplicate"
    rows = sorted((row for row, _ in store.logged.values()), key=lambda r: r.recipient)
    assert [(r.channel, r.recipient, r.template) for r in rows] == [
        ("email", "billing@acme.example", "prepaid_exhausted"),
        ("email", "noc@acme.example", "prepaid_exhausted"),
    ]
    assert [r.id for r in rows] == [
        notification_id(event.id, r.recipient, "email") for r in rows
    ], "ids are deterministic from the billing event id"
    assert {(r.ticket_id, r.account, r.source_event_id, r.source_type) for r in rows} == {
        ("t-1", "acme", event.id, "prepaid.exhausted")
    }
    assert rows[0].subject == "[TF-100001] prepaid_exhausted"
    assert templates.renders == [("prepaid_exhausted", None)] and commits.count == 1
    assert store.tickets["t-1"]["contact"] == "caller@acme.example", "no ticket facts change"


@pytest.mark.parametrize("kind", sorted(ACCOUNT_TEMPLATES))
async def test_each_account_billing_type_has_its_template(kind: str) -> None:
    store = store_with_contacts()
    use_case, templates, _ = planner(store)
    assert await NotifyConsumer(use_case).handle(record(billing(kind))) == "planned"
    assert {row.template for row, _ in store.logged.values()} == {ACCOUNT_TEMPLATES[kind]}
    assert [name for name, _ in templates.renders] == [ACCOUNT_TEMPLATES[kind]]


@pytest.mark.parametrize("kind", ["charge.assessed", "charge.voided", "tam.budget_warning"])
async def test_charges_and_the_budget_warning_are_not_emailed(kind: str) -> None:
    store = store_with_contacts()
    use_case, templates, commits = planner(store)
    event = billing(kind)
    assert await NotifyConsumer(use_case).handle(record(event)) == "nothing_to_send"
    assert store.logged == {} and templates.renders == [] and commits.count == 0
    assert event.id in store.processed
    assert store.contact_reads == [], "the contacts are read only for what tells the account"


async def test_an_account_without_approved_contacts_is_told_through_the_tickets_contact() -> None:
    store = store_with_contacts()
    store.contacts.clear()
    use_case, _, _ = planner(store)
    assert await NotifyConsumer(use_case).handle(record(billing("prepaid.low"))) == "planned"
    [(row, _)] = store.logged.values()
    assert (row.recipient, row.template) == ("caller@acme.example", "prepaid_low")


async def test_nobody_to_tell_logs_nothing() -> None:
    store = FakePlanning()
    use_case, _, _ = planner(store)
    event = billing("tam.budget_exhausted", ticket="t-unseen")
    assert await NotifyConsumer(use_case).handle(record(event)) == "nothing_to_send"
    assert store.logged == {} and event.id in store.processed


def test_escalation_recipients_and_the_tickets_contact_are_not_the_accounts_audience() -> None:
    source = Source(uuid.uuid4(), "prepaid.low", "t-1", "acme", {}, "billing")
    audience = Audience("caller@acme.example", ["oncall@provider.example"], (), ["A@acme.example"])
    assert to_people(source, audience) == [("a@acme.example", "prepaid_low")]


async def test_the_accounts_override_is_used_for_a_billing_template() -> None:
    store = store_with_contacts()
    override = ("ACME: TAM hours used", "{{ event.tam.used_minutes }}")
    store.overrides[("acme", "tam_budget_exhausted")] = override
    use_case, templates, _ = planner(store)
    await NotifyConsumer(use_case).handle(record(billing("tam.budget_exhausted")))
    assert {row.subject for row, _ in store.logged.values()} == {"ACME: TAM hours used"}
    assert templates.renders == [("tam_budget_exhausted", override)]


async def test_webhook_subscribers_get_the_billing_types_they_asked_for() -> None:
    store = store_with_contacts()
    store.subs["acme"] = [
        Subscription("wh_all", "acme", frozenset({"*"})),
        Subscription("wh_prepaid", "acme", frozenset({"prepaid.*"})),
        Subscription("wh_tam", "acme", frozenset({"tam.budget_warning"})),
        Subscription("wh_sla", "acme", frozenset({"sla.*", "escalation.*"})),
    ]
    use_case, _, _ = planner(store)
    consumer = NotifyConsumer(use_case)
    told: dict[str, set[str]] = {}
    for kind in ("prepaid.exhausted", "tam.budget_warning", "charge.assessed"):
        event = billing(kind)
        await consumer.handle(record(event))
        told[kind] = {
            row.recipient
            for row, _ in store.logged.values()
            if row.channel == "webhook" and row.source_event_id == event.id
        }
    assert told == {
        "prepaid.exhausted": {"wh_all", "wh_prepaid"},
        "tam.budget_warning": {"wh_all", "wh_tam"},
        "charge.assessed": {"wh_all"},
    }
    [hook] = [
        row
        for row, _ in store.logged.values()
        if row.recipient == "wh_prepaid" and row.source_type == "prepaid.exhausted"
    ]
    payload = orjson.loads(hook.body)
    assert (payload["type"], payload["ticket_id"], payload["ticket_number"]) == (
        "prepaid.exhausted",
        "t-1",
        "TF-100001",
    )
    assert payload["event"]["prepaid"] == {"balance_minutes": 0, "low_at_minutes": 60}


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"{not json",
        b'{"id": "x"}',
        orjson.dumps({**billing("prepaid.low").model_dump(mode="json"), "type": "prepaid.gone"}),
        orjson.dumps({**billing("prepaid.low").model_dump(mode="json"), "extra": 1}),
    ],
)
async def test_an_undecodable_billing_record_is_a_bad_message(value: bytes | None) -> None:
    store = FakePlanning()
    use_case, _, _ = planner(store)
    with pytest.raises(BadMessage) as bad:
        await NotifyConsumer(use_case).handle(Record(BILLING.name, b"t-1", value, []))
    assert bad.value.reason == "undecodable"
    assert store.processed == set() and store.logged == {}


# -- the default templates and their samples ------------------------------------------------


@pytest.fixture
async def templates() -> AsyncIterator[Templates]:
    templates = Templates()
    try:
        yield templates
    finally:
        await templates.aclose()


def test_the_billing_templates_are_known_and_their_samples_are_billing_events() -> None:
    assert set(BILLING_EVENT_OF) == set(ACCOUNT_TEMPLATES.values()) <= set(TEMPLATES)
    for name, kind in BILLING_EVENT_OF.items():
        for complete in (True, False):
            context = sample_context(name, complete=complete)
            event = BillingEvent.model_validate(context["event"])
            assert event.type == kind
            assert set(context["event"]) == set(BillingEvent.model_fields)
        assert sample_context(name, complete=False)["ticket"] == {}


async def test_prepaid_low_says_how_much_time_is_left(templates: Templates) -> None:
    context = _context(billing("prepaid.low"))
    rendered = await templates.render("prepaid_low", context)
    assert rendered.subject == "Prepaid support time running low: 45 minutes left"
    assert "45 minutes" in rendered.body and "TF-100001" in rendered.body
    assert "ESS at emergency rates stops" in rendered.body


async def test_prepaid_exhausted_says_ess_stops(templates: Templates) -> None:
    rendered = await templates.render("prepaid_exhausted", _context(billing("prepaid.exhausted")))
    assert rendered.subject == "Prepaid support time used up: Emergency Support Services stop"
    assert "is used up." in rendered.body
    assert "ESS at emergency rates stops now" in rendered.body
    assert "standard rates" in rendered.body


async def test_tam_budget_exhausted_says_hours_used_and_the_redirect(
    templates: Templates,
) -> None:
    event = billing("tam.budget_exhausted")
    rendered = await templates.render("tam_budget_exhausted", _context(event, ticket={}))
    assert rendered.subject == "TAM hours for 2026-11 used up: 8 h of 8 h"
    assert "8 h of the 8 hours a month your service plan includes" in rendered.body
    assert "redirect" in rendered.body and "support@voximplant.com" in rendered.body
    assert "upgrade your service plan" in rendered.body
    assert "ticket t-1" in rendered.body, "numbered by its id when notify never saw it open"
    sample = await templates.render("tam_budget_exhausted", sample_context("tam_budget_exhausted"))
    assert sample.subject == "TAM hours for 2026-11 used up: 8 h 15 min of 8 h"


async def test_a_billing_override_is_validated_against_its_samples(templates: Templates) -> None:
    await templates.validate(
        "prepaid_low", "{{ event.prepaid.balance_minutes }} min left", "{{ ticket.number }}"
    )
    with pytest.raises(TemplateError):  # a typo: there is no `balance`
        await templates.validate("prepaid_low", "{{ event.prepaid.balance }}", "x")
    with pytest.raises(TemplateError, match="with the optional fields unset"):
        await templates.validate("tam_budget_exhausted", "s", "{{ ticket.number.upper() }}")
    for name in BILLING_EVENT_OF:
        await templates.validate(name, *templates.default(name))


def _context(event: BillingEvent, ticket: dict[str, Any] | None = None) -> dict[str, Any]:
    """The context the email renderer builds from a billing event."""
    row = {"ticket_id": "t-1", "account": "acme", "number": "TF-100001"}
    return {
        "ticket": row if ticket is None else ticket,
        "event": event.model_dump(mode="json"),
        "account": event.account,
    }


async def test_an_account_may_override_each_billing_template() -> None:
    log = FakeLog()
    use_case, _ = admin(log)
    for name in BILLING_EVENT_OF:
        await use_case.put_template("acme", name, "Subject", "Body")
    assert set(log.templates) == {("acme", name) for name in BILLING_EVENT_OF}
