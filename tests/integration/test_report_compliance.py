"""`ticketflow report compliance` over a real event store: the JSON it prints is the pure
`compliance(...)` of the same histories, the store is read in pages ticket by ticket, and
tickets it cannot replay are skipped and counted."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import typer
from typer.testing import CliRunner, Result

from services.cli import report_cmd
from services.console.adapters.event_store import ticket_histories
from services.console.domain.compliance import (
    compliance,
    evaluation_instant,
    replayed_outcomes,
    to_json,
)
from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_database
from services.intake.adapters.event_store import EventStore, migrate
from services.intake.domain.tickets import TicketRow
from shared.events import Envelope
from shared.policy import policies_by_ref
from shared.sla import TimelineEvent

T0 = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
LAST_HOUR = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
AS_OF = "2026-12-02T00:00:00+00:00"  # after November: its clocks are read at its end


@pytest.fixture
async def url(infra: Infrastructure) -> AsyncIterator[str]:
    url = await ensure_database(infra.database_url, f"compliance_{uuid.uuid4().hex[:10]}")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    assert pool is not None
    await migrate(pool)
    await pool.execute(
        "INSERT INTO accounts (id, name, policy_id) VALUES "
        "('vox', 'V', 'voximplant'), ('vip', 'P', 'voipster')"
    )
    await pool.close()
    yield url


def _opened(ticket_id: uuid.UUID, account: str, policy: str, at: datetime, **data: Any) -> Envelope:
    return Envelope(
        type="ticket.opened",
        source="test",
        subject=str(ticket_id),
        time=at,
        sequence=1,
        account=account,
        policy=policy,
        data={"ticket_number": f"TF-{ticket_id.hex[:10]}", **data},
    )


def _then(kind: str, at: datetime):  # type: ignore[no-untyped-def]
    def build(ticket: TicketRow) -> Envelope:
        return Envelope(
            type=f"ticket.{kind}",
            source="test",
            subject=str(ticket.ticket_id),
            time=at,
            sequence=ticket.version + 1,
            account=ticket.account_id,
            policy=ticket.policy,
        )

    return build


VOX = {"channel": "email", "plan": "gold"}
# (account, policy, opened at, opening data, [(event, minutes after opening)])
SCRIPT: list[tuple[str, str, datetime, dict[str, Any], list[tuple[str, int]]]] = [
    ("vox", "voximplant@1", T0, {**VOX, "priority": "sev1"}, [("responded", 10)]),
    ("vox", "voximplant@1", T0, {**VOX, "priority": "sev1"}, [("responded", 120)]),  # late
    ("vox", "voximplant@1", T0, {**VOX, "priority": "sev1"}, []),  # never answered
    (
        "vox",
        "voximplant@1",
        T0,
        {**VOX, "priority": "sev2"},
        [("awaiting_customer", 30), ("customer_replied", 40), ("responded", 50)],
    ),
    ("vip", "voipster@1", T0, {"channel": "web", "priority": "emergency"}, [("responded", 5)]),
    # opened in November's last hour, due Dec 1 01:00: December's
    ("vox", "voximplant@1", LAST_HOUR, {**VOX, "priority": "sev2"}, []),
    # a policy this version does not know: skipped
    ("vox", "gone@9", T0, {**VOX, "priority": "sev1"}, []),
]


async def _store(url: str) -> dict[str, tuple[str, list[TimelineEvent]]]:
    """Write the script through intake's event store; ticket -> (policy, its events)."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    assert pool is not None
    store = EventStore(pool)
    written: dict[str, tuple[str, list[TimelineEvent]]] = {}
    try:
        for account, policy, opened_at, data, then in SCRIPT:
            ticket = uuid.uuid4()
            envelopes = [
                await store.open_ticket(_opened(ticket, account, policy, opened_at, **data))
            ]
            for kind, minutes in then:
                at = opened_at + timedelta(minutes=minutes)
                envelopes.append(await store.append(ticket, _then(kind, at)))
            written[str(ticket)] = (
                policy,
                [
                    TimelineEvent(e.type, e.time, dict(e.data), sequence=e.sequence)
                    for e in envelopes
                ],
            )
    finally:
        await pool.close()
    return written


def _direct(written: dict[str, tuple[str, list[TimelineEvent]]], month: str) -> dict[str, Any]:
    policies = policies_by_ref()
    as_of = evaluation_instant(month, datetime.fromisoformat(AS_OF))
    outcomes = [
        outcome
        for ticket, (ref, events) in written.items()
        if ref in policies
        for outcome in replayed_outcomes(ticket, events, policies[ref], as_of)
    ]
    parsed: dict[str, Any] = json.loads(to_json(compliance(outcomes, month)))
    return parsed


def _cli(url: str, *args: str) -> Result:
    """`ticketflow report ...` as main.py registers it."""
    root = typer.Typer()
    root.add_typer(report_cmd.app, name="report")
    return CliRunner().invoke(root, ["report", *args, "--database-url", url])


async def test_the_cli_prints_compliance_of_the_stored_histories(url: str) -> None:
    written = await _store(url)

    ran = await asyncio.to_thread(_cli, url, "compliance", "--month", "2026-11", "--as-of", AS_OF)
    assert ran.exit_code == 0, ran.output
    printed = json.loads(ran.stdout)
    assert printed == _direct(written, "2026-11")
    assert "skipped 1 ticket(s): unknown policy 'gone@9'" in ran.stderr
    # and by hand: sev1 met 1 of 3 (33.3 %), answers after 600 and 7200 s; sev2 met
    assert [
        (r["policy"], r["priority"], r["metric"], r["tickets"], r["met"], r["met_percent"])
        for r in printed["rows"]
    ] == [
        ("voipster", "emergency", "first_response", 1, 1, "100.0"),
        ("voximplant", "sev1", "first_response", 3, 1, "33.3"),
        ("voximplant", "sev2", "first_response", 1, 1, "100.0"),
        ("voximplant", "sev2", "customer_response", 1, 1, "100.0"),  # replied within 2 h
    ]
    sev1 = printed["rows"][1]
    assert (sev1["first_response_p50_seconds"], sev1["first_response_p90_seconds"]) == (
        "600",
        "7200",
    )
    assert [b["breached_at"] for b in printed["breaches"]] == ["2026-11-10T11:00:00Z"] * 2

    december = await asyncio.to_thread(
        _cli, url, "compliance", "--month", "2026-12", "--as-of", "2026-12-01T00:30:00Z"
    )
    assert december.exit_code == 0, december.output
    shown = json.loads(december.stdout)
    assert [(r["tickets"], r["running"]) for r in shown["rows"]] == [(1, 1)]

    as_csv = await asyncio.to_thread(
        _cli, url, "compliance", "--month", "2026-11", "--as-of", AS_OF, "--csv"
    )
    assert as_csv.exit_code == 0, as_csv.output
    lines = as_csv.stdout.splitlines()
    assert lines[0].startswith("month,policy,priority,metric,tickets,met,breached,running")
    assert lines[2] == "2026-11,voximplant,sev1,first_response,3,1,2,0,33.3,600,7200"

    wrong = await asyncio.to_thread(_cli, url, "compliance", "--month", "2026-13")
    assert wrong.exit_code == 2 and "YYYY-MM" in wrong.output


async def test_the_store_is_read_in_pages_one_ticket_at_a_time(url: str) -> None:
    written = await _store(url)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    try:
        read = [history async for history in ticket_histories(pool, page=3)]
    finally:
        await pool.close()
    assert [h.ticket_id for h in read] == sorted(written, key=uuid.UUID)
    for history in read:
        policy, events = written[history.ticket_id]
        assert history.policy == policy
        assert [(e.type, e.at, e.data, e.sequence) for e in history.events] == [
            (e.type, e.at, e.data, e.sequence) for e in events
        ]
        assert all(e.recorded_at is not None for e in history.events)
