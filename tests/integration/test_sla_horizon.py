"""The event store's horizon on real PostgreSQL: an open writer transaction holds it back, a
reader does not, and a role that cannot see other sessions gets no horizon at all."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg

from services.intake.adapters.event_store import migrate
from services.sla.adapters.event_store_truth import EventStoreTruth

# A write of any kind gives the transaction an xid, as intake's appends do; a table of the
# test's own keeps the shared event store clean for the other tests.
INSERT = "INSERT INTO horizon_probe (id, other) VALUES ($1, $2)"
PROBE = "CREATE TABLE IF NOT EXISTS horizon_probe (id uuid PRIMARY KEY, other uuid)"


async def migrated(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    assert pool is not None
    try:
        await migrate(pool)
        await pool.execute(PROBE)
    finally:
        await pool.close()


async def test_an_open_writer_holds_the_horizon_at_its_start_and_a_reader_does_not(
    database_url: str,
) -> None:
    await migrated(database_url)
    truth = EventStoreTruth(database_url)
    writer = await asyncpg.connect(database_url)
    reader = await asyncpg.connect(database_url)
    try:
        reading = reader.transaction(readonly=True, isolation="repeatable_read")
        await reading.start()
        await reader.fetchval("SELECT count(*) FROM events")  # a replay, idle in transaction
        idle = await truth.horizon()
        assert idle is not None and abs(idle - time.time()) < 1.0

        writing = writer.transaction()
        await writing.start()
        await writer.execute(INSERT, uuid.uuid4(), uuid.uuid4())
        started = (await writer.fetchval("SELECT now()")).timestamp()
        await asyncio.sleep(0.5)
        held = await truth.horizon()
        assert held is not None and held <= started + 1e-6, (held, started)
        await writing.commit()
        released = await truth.horizon()
        assert released is not None and released > started + 0.4
        await reading.rollback()
    finally:
        await writer.close()
        await reader.close()
        await truth.close()


async def test_a_role_that_cannot_see_other_sessions_gets_no_horizon(database_url: str) -> None:
    await migrated(database_url)
    role = f"sla_reader_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    writer = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE ROLE {role} LOGIN")
    await admin.execute(f"GRANT SELECT ON events TO {role}")
    await admin.execute(f"GRANT SELECT ON horizon_probe TO {role}")
    host, port = admin._addr[:2]  # type: ignore[attr-defined]
    database = await admin.fetchval("SELECT current_database()")
    truth = EventStoreTruth(f"postgresql://{role}@{host}:{port}/{database}")
    try:
        writing = writer.transaction()
        await writing.start()
        await writer.execute(INSERT, uuid.uuid4(), uuid.uuid4())
        assert await truth.horizon() is None  # the writer is hidden: no verdict, no breach
        await writing.rollback()
    finally:
        await truth.close()
        await writer.close()
        await admin.execute(f"REVOKE ALL ON events FROM {role}")
        await admin.execute(f"REVOKE ALL ON horizon_probe FROM {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_an_unreadable_stored_event_spoils_only_its_own_tickets_repair(
    database_url: str,
) -> None:
    await migrated(database_url)
    bad, good = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(database_url)
    truth = EventStoreTruth(database_url)
    envelope = (
        '{"account": "acme", "policy": "voximplant@1", "data": {"channel": "web", '
        '"priority": "sev1", "plan": "gold"}}'
    )
    try:
        for ticket, body in ((bad, "{}"), (good, envelope)):
            await conn.execute(
                "INSERT INTO events (ticket_id, version, event_id, type, occurred_at, envelope) "
                "VALUES ($1, 1, $2, 'ticket.opened', now(), $3::jsonb)",
                ticket,
                uuid.uuid4(),
                body,
            )
        found = await truth.histories({str(bad): 0, str(good): 0})
        assert found[str(bad)] == []
        assert [event.sequence for event in found[str(good)]] == [1]
    finally:
        await conn.execute("DELETE FROM events WHERE ticket_id = ANY($1::uuid[])", [bad, good])
        await conn.close()
        await truth.close()
