"""Benchmark: `ticketflow sla replay` over an event store of N events.

  system    the real CLI (`ticketflow sla replay --database-url ...`): read every history in
            (ticket, version) order and fold it with the pure core
  baseline  the same read of the same rows with orjson decoding only (no core), same run
Target: the replay keeps >= 0.8 of the baseline's rate. `--events` sizes the store (tickets
are a tenth of the events); `bench/curves.py` runs 100k, 1M and 5M.

    python bench/sla_replay.py [--quick] [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sla_core import FOLLOW_UPS, OPENINGS  # noqa: E402
from services.devstack.postgres import EmbeddedPostgres  # noqa: E402
from services.devstack.provisioning import ensure_database  # noqa: E402
from services.intake.adapters.event_store import migrate  # noqa: E402
from shared.policy import load_policies  # noqa: E402

START = datetime(2026, 11, 2, tzinfo=UTC)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rows(events: int, tickets: int, seed: int = 5) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """(events rows, tickets rows) as intake would have stored them."""
    rng = random.Random(seed)
    refs = {policy_id: policy.ref for policy_id, policy in load_policies().items()}
    per_ticket = events // tickets
    event_rows: list[tuple[Any, ...]] = []
    ticket_rows: list[tuple[Any, ...]] = []
    for index in range(tickets):
        policy_id = list(OPENINGS)[index % len(OPENINGS)]
        ticket = uuid.uuid4()
        at = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 14))
        opened_at = at
        kinds = [("ticket.opened", rng.choice(OPENINGS[policy_id]))]
        kinds += [FOLLOW_UPS[i % len(FOLLOW_UPS)] for i in range(per_ticket - 1)]
        for sequence, (kind, data) in enumerate(kinds, start=1):
            event_id = uuid.uuid4()
            envelope = {
                "id": str(event_id),
                "type": kind,
                "source": "bench",
                "subject": str(ticket),
                "time": at.isoformat(),
                "sequence": sequence,
                "account": "bench",
                "policy": refs[policy_id],
                "schema_version": 1,
                "data": data,
            }
            event_rows.append(
                (ticket, sequence, event_id, kind, at, at, orjson.dumps(envelope).decode())
            )
            at += timedelta(minutes=rng.randrange(1, 240))
        ticket_rows.append(
            (
                ticket,
                "bench",
                f"TF-{index:010d}",
                refs[policy_id],
                "p",
                None,
                "closed",
                per_ticket,
                opened_at,
                at,
            )
        )
    return event_rows, ticket_rows


async def load(url: str, events: int, tickets: int) -> None:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    await migrate(pool)
    await pool.execute(
        "INSERT INTO accounts (id, name, policy_id) VALUES ('bench', 'Bench', 'voipster') "
        "ON CONFLICT DO NOTHING"
    )
    event_rows, ticket_rows = rows(events, tickets)
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "tickets",
            records=ticket_rows,
            columns=[
                "ticket_id",
                "account_id",
                "number",
                "policy",
                "priority",
                "plan",
                "status",
                "version",
                "opened_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "events",
            records=event_rows,
            columns=[
                "ticket_id",
                "version",
                "event_id",
                "type",
                "occurred_at",
                "recorded_at",
                "envelope",
            ],
        )
        await conn.execute("VACUUM ANALYZE events")
    await pool.close()


async def read_only(url: str) -> tuple[int, float]:
    """Baseline: the replay's read, decoding each envelope, no SLA core."""
    conn = await asyncpg.connect(url)
    count = 0
    began = time.perf_counter()
    async with conn.transaction(readonly=True):
        async for row in conn.cursor(
            "SELECT ticket_id, recorded_at, envelope::text AS envelope FROM events "
            "ORDER BY ticket_id, version",
            prefetch=20_000,
        ):
            orjson.loads(row["envelope"])
            count += 1
    seconds = time.perf_counter() - began
    await conn.close()
    return count, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k events; under a minute")
    parser.add_argument(
        "--events",
        type=int,
        default=1_000_000,
        help="events in the store, over a tenth as many tickets (default 1,000,000; 5M takes "
        "about ten minutes, most of it loading the store)",
    )
    args = parser.parse_args()
    events = 100_000 if args.quick else args.events
    tickets = max(1, events // 10)
    workdir = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    server = EmbeddedPostgres(workdir)
    server_url = server.start()
    try:
        url = asyncio.run(ensure_database(server_url, "replay"))
        log(f"loading {events:,} events of {tickets:,} tickets into the event store ...")
        asyncio.run(load(url, events, tickets))
        log("baseline: read + decode only ...")
        count, base_s = asyncio.run(read_only(url))
        log("system: ticketflow sla replay ...")
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "services.cli.main", "sla", "replay", "--database-url", url],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            timeout=3600,
        )
        wall_s = time.perf_counter() - began
        result = json.loads(done.stdout)
    finally:
        server.stop()
    metrics = {
        "events_per_s": result["events_per_s"],
        "replay_seconds": result["seconds"],
        "cli_wall_seconds": round(wall_s, 2),
        "tickets": result["tickets"],
        "refused": len(result["refused"]),
    }
    baselines = {"read_decode_events_per_s": round(count / base_s)}
    print(
        orjson.dumps(
            {
                "bench": "sla_replay",
                "metrics": metrics,
                "baselines": baselines,
                "ratios": {
                    "events_per_s": round(
                        metrics["events_per_s"] / baselines["read_decode_events_per_s"], 3
                    )
                },
                "params": {
                    "events": events,
                    "tickets": tickets,
                    "quick": args.quick,
                    "target_ratio": 0.8,
                },
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
