"""`ticketflow billing replay` and `billing statement` over a real event store: the ledgers
recomputed from history match the service's, and a drifted charge is reported."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from services.billing.adapters.postgres import PostgresLedger
from services.billing.entrypoints.consumer import incoming
from services.billing.service_layer.ledger import Biller
from services.common.runtime import migrate_service
from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_database
from services.intake.adapters.event_store import EventStore, migrate
from services.intake.domain.tickets import TicketRow
from shared.events import Envelope
from shared.policy import policies_by_ref

T0 = datetime(2026, 11, 7, 11, 0, tzinfo=UTC)  # Saturday 03:00 in Los Angeles


@pytest.fixture
async def url(infra: Infrastructure) -> AsyncIterator[str]:
    url = await ensure_database(infra.database_url, f"billing_{uuid.uuid4().hex[:10]}")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    assert pool is not None
    await migrate(pool)
    await migrate_service(pool, "services.billing.adapters", 9)
    await pool.execute(
        "INSERT INTO accounts (id, name, policy_id) VALUES ('hv', 'HV', 'hosted-voice')"
    )
    await pool.close()
    yield url


def _then(kind: str, minutes: int, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    def build(ticket: TicketRow) -> Envelope:
        return Envelope(
            type=kind,
            source="test",
            subject=str(ticket.ticket_id),
            time=T0 + timedelta(minutes=minutes),
            sequence=ticket.version + 1,
            account=ticket.account_id,
            policy=ticket.policy,
            data=data,
        )

    return build


async def _history(url: str) -> None:
    """Two off-hours P1s of 90 and 150 minutes, not the provider's fault, stored by intake
    and billed by the live use case."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    assert pool is not None
    store = EventStore(pool)
    biller = Biller(PostgresLedger(pool), policies_by_ref(), lambda: T0 + timedelta(days=1))
    try:
        for minutes in (90, 150):
            ticket = uuid.uuid4()
            opened = Envelope(
                type="ticket.opened",
                source="test",
                subject=str(ticket),
                time=T0,
                sequence=1,
                account="hv",
                policy="hosted-voice@1",
                data={
                    "channel": "phone",
                    "priority": "p1",
                    "ticket_number": f"TF-{ticket.hex[:9]}",
                    "flags": ["off_hours_p1_billable_review"],
                },
            )
            recorded = [await store.open_ticket(opened)]
            work = {
                "by": "noc",
                "started_at": T0.isoformat(),
                "minutes": minutes,
                "rate": "off_hours",
            }
            recorded.append(await store.append(ticket, _then("ticket.work_logged", minutes, work)))
            found = {"fault": "customer"}
            recorded.append(
                await store.append(ticket, _then("ticket.determination_recorded", 200, found))
            )
            for envelope in recorded:
                await biller.on_ticket_event(incoming(envelope))
    finally:
        await pool.close()


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", "billing", *args],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_replay_matches_the_ledger_and_finds_a_drifted_charge(url: str) -> None:
    await _history(url)
    ran = await asyncio.to_thread(_cli, url, "replay")
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert (report["events"], report["tickets"], report["refused"]) == (6, 2, 0)
    assert report["differences"] == []

    shown = await asyncio.to_thread(_cli, url, "statement", "--account", "hv", "--month", "2026-11")
    assert shown.returncode == 0, shown.stderr
    statement = json.loads(shown.stdout)
    assert statement["totals"] == {"USD": "450.00"}  # 120 min minimum + 150 min, at $100/h
    assert sorted(c["billed_minutes"] for c in statement["charges"]) == [120, 150]
    as_csv = await asyncio.to_thread(
        _cli, url, "statement", "--account", "hv", "--month", "2026-11", "--csv"
    )
    assert as_csv.stdout.splitlines()[-1] == "total,,,,,,,,450.00,USD,"

    pool = await asyncpg.connect(url)
    try:
        await pool.execute("UPDATE billing_charges SET amount = 150 WHERE billed_minutes = 150")
    finally:
        await pool.close()
    drifted = await asyncio.to_thread(_cli, url, "replay")
    assert drifted.returncode == 1
    [difference] = json.loads(drifted.stdout)["differences"]
    assert (difference["history"], difference["ledger"]) == ("250.00", "150.00")

    wrong = await asyncio.to_thread(_cli, url, "statement", "--account", "hv", "--month", "2026-13")
    assert wrong.returncode == 2 and "YYYY-MM" in wrong.stderr
