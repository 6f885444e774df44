"""The console's projection use case on the in-memory read model: the at-risk list in order
of the next deadline, pauses, breaches, acknowledgements, resolutions, redelivery, and the
accounts a query may see. The same scenarios run on the PostgreSQL read model in
tests/integration/test_console.py (`SCENARIOS`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.console.adapters.memory import MemoryReadModel
from services.console.domain.at_risk import ClockChange, TicketFacts
from services.console.domain.history import EscalationSeen, HistoryEvent, Mark
from services.console.service_layer.ports import AtRiskQuery, ReadModel
from services.console.service_layer.projection import Projection

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def facts(ticket: str, account: str = "acme", priority: str = "high") -> TicketFacts:
    return TicketFacts(ticket, f"TF-{ticket}", account, "voipster@1", priority)


def clock(
    kind: str,
    ticket: str,
    at: datetime,
    due: datetime | None = None,
    metric: str = "first_response",
    account: str = "acme",
) -> ClockChange:
    return ClockChange(kind, ticket, None, account, "voipster@1", "high", metric, at, due)


def happened(
    kind: str, of: TicketFacts, at: datetime, sequence: int | None = None, **data: object
) -> HistoryEvent:
    return HistoryEvent(
        uuid.uuid4(), of.ticket_id, of.account, of.policy, kind, at, sequence, None, 1, data
    )


ESCALATION = uuid.UUID(int=7)


def escalated(
    kind: str,
    level: int,
    at: datetime,
    ticket: str = "t1",
    escalation: uuid.UUID = ESCALATION,
    by: str | None = None,
    event_id: uuid.UUID | None = None,
) -> EscalationSeen:
    return EscalationSeen(
        event_id or uuid.uuid4(),
        kind,
        escalation,
        ticket,
        f"TF-{ticket}",
        "acme",
        "voipster@1",
        "high",
        "first_response",
        "sla.breached",
        False,
        level,
        hours(1),
        at,
        by,
    )


async def opened(projection: Projection, ticket: str, due: datetime, account: str = "acme") -> None:
    await projection.on_ticket(
        happened("ticket.opened", facts(ticket, account), T0, 1), facts(ticket, account)
    )
    await projection.on_clock(
        uuid.uuid4(), clock("sla.clock_started", ticket, T0, due, account=account), T0
    )


ALL = AtRiskQuery(None)


async def open_tickets_are_listed_by_their_next_deadline(model: ReadModel) -> None:
    projection = Projection(model)
    await opened(projection, "t1", hours(4))
    await opened(projection, "t2", hours(1))
    await opened(projection, "t3", hours(2))

    rows = await projection.at_risk(ALL)

    assert [row.ticket_id for row in rows] == ["t2", "t3", "t1"]
    assert rows[0].number == "TF-t2" and rows[0].status == "running"
    assert rows[0].due_at == hours(1)


async def a_paused_clock_is_listed_after_the_running_ones_and_resumes_with_its_new_due(
    model: ReadModel,
) -> None:
    projection = Projection(model)
    await opened(projection, "t1", hours(1))
    await opened(projection, "t2", hours(3))
    await projection.on_clock(uuid.uuid4(), clock("sla.clock_paused", "t1", hours(0.5)), hours(0.5))

    rows = await projection.at_risk(ALL)
    assert [(row.ticket_id, row.status) for row in rows] == [("t2", "running"), ("t1", "paused")]

    await projection.on_clock(
        uuid.uuid4(), clock("sla.clock_resumed", "t1", hours(1), hours(1.5)), hours(1)
    )
    rows = await projection.at_risk(ALL)
    assert [(row.ticket_id, row.status, row.due_at) for row in rows] == [
        ("t1", "running", hours(1.5)),
        ("t2", "running", hours(3)),
    ]


async def a_breach_stays_listed_and_an_escalation_shows_its_level_and_ack(model: ReadModel) -> None:
    projection = Projection(model)
    await opened(projection, "t1", hours(1))
    await projection.on_clock(
        uuid.uuid4(), clock("sla.warning", "t1", hours(0.8), hours(1)), hours(0.8)
    )
    await projection.on_clock(uuid.uuid4(), clock("sla.breached", "t1", hours(1)), hours(1))
    await projection.on_escalation(escalated("escalation.raised", 1, hours(1)))
    await projection.on_escalation(escalated("escalation.acknowledged", 1, hours(1.1)))

    (row,) = await projection.at_risk(ALL)

    assert row.status == "breached" and row.due_at == hours(1)
    assert row.warn_at == hours(0.8)
    assert row.escalation_level == 1 and row.acknowledged


async def met_metrics_and_resolved_tickets_leave_the_list(model: ReadModel) -> None:
    projection = Projection(model)
    await opened(projection, "t1", hours(1))
    await opened(projection, "t2", hours(2))
    await projection.on_clock(
        uuid.uuid4(), clock("sla.clock_started", "t2", T0, hours(8), "resolution"), T0
    )
    await projection.on_clock(uuid.uuid4(), clock("sla.met", "t1", hours(0.5)), hours(0.5))
    await projection.on_ticket(happened("ticket.resolved", facts("t2"), hours(0.6)), facts("t2"))

    assert await projection.at_risk(ALL) == []

    # An SLA event for the resolved ticket that arrives late does not bring it back.
    late = clock("sla.clock_started", "t2", hours(0.7), hours(9), "rfo")
    assert await projection.on_clock(uuid.uuid4(), late, hours(0.7)) == "ignored"
    assert await projection.at_risk(ALL) == []


async def a_redelivered_event_changes_nothing(model: ReadModel) -> None:
    projection = Projection(model)
    await opened(projection, "t1", hours(1))
    breach = uuid.uuid4()
    level = escalated("escalation.level_advanced", 2, hours(2))

    assert await projection.on_clock(breach, clock("sla.breached", "t1", hours(1)), hours(1)) == (
        "applied"
    )
    assert await projection.on_escalation(level) == "applied"
    before = (await projection.at_risk(ALL), await model.status())

    assert await projection.on_clock(breach, clock("sla.breached", "t1", hours(1)), hours(1)) == (
        "duplicate"
    )
    assert await projection.on_escalation(level) == "duplicate"

    assert (await projection.at_risk(ALL), await model.status()) == before
    assert before[1].newest_event_at == hours(2)


async def a_query_sees_only_its_accounts_and_its_filters(model: ReadModel) -> None:
    projection = Projection(model)
    await opened(projection, "a1", hours(1), account="acme")
    await opened(projection, "b1", hours(2), account="globex")
    await opened(projection, "a2", hours(3), account="acme")

    acme = await projection.at_risk(AtRiskQuery(frozenset({"acme"})))
    assert [row.ticket_id for row in acme] == ["a1", "a2"]
    # Asking for another account's tickets by filter finds none.
    assert await projection.at_risk(AtRiskQuery(frozenset({"acme"}), account="globex")) == []
    assert [row.ticket_id for row in await projection.at_risk(AtRiskQuery(None, "globex"))] == [
        "b1"
    ]
    assert await projection.at_risk(AtRiskQuery(None, priority="low")) == []
    assert len(await projection.at_risk(AtRiskQuery(None, policy="voipster@1"))) == 3


async def a_severity_change_renames_the_rows_and_sla_first_tickets_are_listed(
    model: ReadModel,
) -> None:
    projection = Projection(model)
    # The SLA event arrives before ticket.opened (different topics): the row is still made.
    await projection.on_clock(uuid.uuid4(), clock("sla.clock_started", "t1", T0, hours(1)), T0)
    await projection.on_ticket(happened("ticket.opened", facts("t1"), T0), facts("t1"))
    lowered = TicketFacts("t1", None, "acme", "voipster@1", "low")
    changed = happened("ticket.severity_changed", lowered, hours(0.2))
    await projection.on_ticket(changed, lowered)

    (row,) = await projection.at_risk(ALL)
    assert (row.number, row.priority) == ("TF-t1", "low")


async def a_ticket_keeps_its_history_and_timeline_marks_for_its_accounts_only(
    model: ReadModel,
) -> None:
    projection = Projection(model)
    await opened(projection, "t1", hours(1))
    t1 = facts("t1")
    # Intake's version order, whatever order the events arrive in.
    await projection.on_ticket(happened("ticket.customer_resumed", t1, hours(0.5), 3), t1)
    paused = happened("ticket.waiting_on_customer", t1, hours(0.2), 2, reason="logs")
    assert await projection.on_ticket(paused, t1) == "recorded"
    assert await projection.on_ticket(paused, t1) == "duplicate"
    await projection.on_escalation(escalated("escalation.raised", 1, hours(1)))
    ack = escalated("escalation.acknowledged", 1, hours(1.1), by="jane@noc")
    await projection.on_escalation(ack)
    sent = Mark(uuid.uuid4(), "t1", hours(0.9), "notification", "Email: sla-warning")
    await projection.on_notification(sent, sent.event_id, hours(0.9))
    await projection.on_notification(None, uuid.uuid4(), hours(0.95))  # a failed attempt
    await opened(projection, "b1", hours(2), account="globex")

    record = await model.ticket_record("t1", frozenset({"acme"}))
    assert record is not None and record.facts.number == "TF-t1"
    assert [(e.type, e.sequence) for e in record.events] == [
        ("ticket.opened", 1),
        ("ticket.waiting_on_customer", 2),
        ("ticket.customer_resumed", 3),
    ]
    assert record.events[1].data == {"reason": "logs"}
    assert [(m.at, m.kind, m.label) for m in record.marks] == [
        (hours(0.9), "notification", "Email: sla-warning"),
        (hours(1), "page", "Paged level 1"),
        (hours(1.1), "ack", "Acknowledged by jane@noc"),
    ]
    assert await model.ticket_record("t1", frozenset({"globex"})) is None
    assert await model.ticket_record("nope", None) is None
    seen = [(f.ticket_id, [e.type for e in events]) async for f, events in model.histories(None)]
    assert seen == [
        ("b1", ["ticket.opened"]),
        ("t1", ["ticket.opened", "ticket.waiting_on_customer", "ticket.customer_resumed"]),
    ]
    assert [f.ticket_id async for f, _ in model.histories(frozenset({"globex"}))] == ["b1"]


async def escalations_are_listed_while_open_and_only_move_forward(model: ReadModel) -> None:
    projection = Projection(model)
    await opened(projection, "t1", hours(1))
    other = uuid.UUID(int=8)
    await projection.on_escalation(escalated("escalation.warned", 0, hours(0.8), escalation=other))
    await projection.on_escalation(escalated("escalation.raised", 1, hours(1)))
    raised, warned = await model.escalations(None)
    assert (raised.escalation_id, raised.status, raised.level) == (ESCALATION, "raised", 1)
    assert raised.ackable and warned.status == "warned"

    await projection.on_escalation(escalated("escalation.acknowledged", 1, hours(1.1), by="jo"))
    # A page for a level advanced before the ack, delivered after it: it stays acknowledged.
    await projection.on_escalation(escalated("escalation.level_advanced", 2, hours(1.05)))
    acked = next(r for r in await model.escalations(None) if r.escalation_id == ESCALATION)
    assert (acked.status, acked.level, acked.acknowledged_by) == ("acknowledged", 2, "jo")
    assert not acked.ackable
    assert await model.escalations(frozenset({"globex"})) == []
    assert await model.open_escalation(ESCALATION, frozenset({"acme"})) == acked
    assert await model.open_escalation(ESCALATION, frozenset({"globex"})) is None

    await projection.on_escalation(escalated("escalation.resolved", 2, hours(2)))
    assert [r.escalation_id for r in await model.escalations(None)] == [other]
    assert await model.open_escalation(ESCALATION, None) is None  # resolved

    await model.clear()
    assert await model.escalations(None) == []
    assert await model.ticket_record("t1", None) is None


Scenario = Callable[[ReadModel], Awaitable[None]]
SCENARIOS: list[Scenario] = [
    open_tickets_are_listed_by_their_next_deadline,
    a_paused_clock_is_listed_after_the_running_ones_and_resumes_with_its_new_due,
    a_breach_stays_listed_and_an_escalation_shows_its_level_and_ack,
    met_metrics_and_resolved_tickets_leave_the_list,
    a_redelivered_event_changes_nothing,
    a_query_sees_only_its_accounts_and_its_filters,
    a_severity_change_renames_the_rows_and_sla_first_tickets_are_listed,
    a_ticket_keeps_its_history_and_timeline_marks_for_its_accounts_only,
    escalations_are_listed_while_open_and_only_move_forward,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_the_projection_on_the_memory_read_model(scenario: Scenario) -> None:
    await scenario(MemoryReadModel())
