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
from services.console.domain.at_risk import ClockChange, EscalationChange, TicketFacts
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


async def opened(projection: Projection, ticket: str, due: datetime, account: str = "acme") -> None:
    await projection.on_ticket(uuid.uuid4(), "ticket.opened", facts(ticket, account), T0)
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
    page = EscalationChange("escalation.raised", "t1", "first_response", 1, hours(1))
    await projection.on_escalation(uuid.uuid4(), page, hours(1))
    ack = EscalationChange("escalation.acknowledged", "t1", "first_response", 1, hours(1.1))
    await projection.on_escalation(uuid.uuid4(), ack, hours(1.1))

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
    await projection.on_ticket(uuid.uuid4(), "ticket.resolved", facts("t2"), hours(0.6))

    assert await projection.at_risk(ALL) == []

    # An SLA event for the resolved ticket that arrives late does not bring it back.
    late = clock("sla.clock_started", "t2", hours(0.7), hours(9), "rfo")
    assert await projection.on_clock(uuid.uuid4(), late, hours(0.7)) == "ignored"
    assert await projection.at_risk(ALL) == []


async def a_redelivered_event_changes_nothing(model: ReadModel) -> None:
    projection = Projection(model)
    await opened(projection, "t1", hours(1))
    breach = uuid.uuid4()
    page = uuid.uuid4()
    level = EscalationChange("escalation.level_advanced", "t1", "first_response", 2, hours(2))

    assert await projection.on_clock(breach, clock("sla.breached", "t1", hours(1)), hours(1)) == (
        "applied"
    )
    assert await projection.on_escalation(page, level, hours(2)) == "applied"
    before = (await projection.at_risk(ALL), await model.status())

    assert await projection.on_clock(breach, clock("sla.breached", "t1", hours(1)), hours(1)) == (
        "duplicate"
    )
    assert await projection.on_escalation(page, level, hours(2)) == "duplicate"

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
    await projection.on_ticket(uuid.uuid4(), "ticket.opened", facts("t1"), T0)
    lowered = TicketFacts("t1", None, "acme", "voipster@1", "low")
    await projection.on_ticket(uuid.uuid4(), "ticket.severity_changed", lowered, hours(0.2))

    (row,) = await projection.at_risk(ALL)
    assert (row.number, row.priority) == ("TF-t1", "low")


Scenario = Callable[[ReadModel], Awaitable[None]]
SCENARIOS: list[Scenario] = [
    open_tickets_are_listed_by_their_next_deadline,
    a_paused_clock_is_listed_after_the_running_ones_and_resumes_with_its_new_due,
    a_breach_stays_listed_and_an_escalation_shows_its_level_and_ack,
    met_metrics_and_resolved_tickets_leave_the_list,
    a_redelivered_event_changes_nothing,
    a_query_sees_only_its_accounts_and_its_filters,
    a_severity_change_renames_the_rows_and_sla_first_tickets_are_listed,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_the_projection_on_the_memory_read_model(scenario: Scenario) -> None:
    await scenario(MemoryReadModel())
