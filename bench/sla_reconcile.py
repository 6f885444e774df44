"""Benchmark: the SLA worker's reconciliation with the event store on partition assignment.

  system    `SlaTracker.reconcile()` over a store of N events (every partition assigned):
            (a) in sync — the state of every ticket present, nothing to repair (the usual
            restart); (b) worst case — every state lost, every ticket rebuilt from the store
  baseline  the bare scan it starts with (every ticket's latest version), same run
Targets: in sync within 2x the bare scan; the worst case bounded by the repair rate.

    python bench/sla_reconcile.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sla_replay import load  # noqa: E402
from services.devstack.postgres import EmbeddedPostgres  # noqa: E402
from services.devstack.provisioning import ensure_database  # noqa: E402
from services.sla.adapters.event_store_truth import ALL_VERSIONS, EventStoreTruth  # noqa: E402
from services.sla.adapters.metrics import SlaMetrics  # noqa: E402
from services.sla.domain.records import OutRecord  # noqa: E402
from services.sla.service_layer.tracker import SlaTracker  # noqa: E402
from shared.policy import policies_by_ref  # noqa: E402
from shared.topics import TICKET_EVENTS  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class DictStore:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def remember(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return list(self.data.items())

    def discard(self, key: bytes) -> None:
        self.data.pop(key, None)


class CountingPublisher:
    def __init__(self) -> None:
        self.records = 0

    async def publish(self, records: list[OutRecord]) -> None:
        self.records += len(records)


class NoOffsets:
    def highwater(self, partition: int) -> int | None:
        return 0  # nothing in the topic: caught up

    def committed(self, partition: int) -> int | None:
        return None


async def bare_scan(url: str) -> float:
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        rows = await conn.fetch(ALL_VERSIONS)
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    log(f"  bare scan: {len(rows):,} tickets in {elapsed:.3f} s")
    return elapsed


async def run(quick: bool) -> dict[str, Any]:
    events, tickets = (100_000, 25_000) if quick else (1_000_000, 100_000)
    workdir = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    server = EmbeddedPostgres(workdir / "postgres")
    try:
        url = await ensure_database(server.start(), "ticketflow")
        log(f"loading {events:,} events over {tickets:,} tickets ...")
        await load(url, events, tickets)
        truth = EventStoreTruth(url)
        store = DictStore()
        publisher = CountingPublisher()
        tracker = SlaTracker(
            store,
            publisher,
            NoOffsets(),
            truth,
            policies_by_ref(),
            SlaMetrics(),
            "bench-state",
            now=lambda: datetime.now(UTC),
        )
        tracker.state_recovered(range(TICKET_EVENTS.partitions))
        baseline_s = await bare_scan(url)

        log("system (b): every state lost, every ticket rebuilt from the store ...")
        await tracker.reconcile()
        lost = dict(tracker.last_reconciliation)
        log(f"  {lost}")
        log("system (a): in sync, nothing to repair ...")
        await tracker.reconcile()
        in_sync = dict(tracker.last_reconciliation)
        log(f"  {in_sync}")
        baseline_s = min(baseline_s, await bare_scan(url))
        await truth.close()
        rss_mb = psutil.Process().memory_info().rss / 2**20
    finally:
        server.stop()
    return {
        "bench": "sla_reconcile",
        "metrics": {
            "in_sync_seconds": in_sync["seconds"],
            "in_sync_tickets_per_s": round(tickets / float(in_sync["seconds"])),
            "all_lost_seconds": lost["seconds"],
            "all_lost_repaired": lost["repaired"],
            "all_lost_events_per_s": round(events / float(lost["seconds"])),
            "records_re_emitted": publisher.records,
            "rss_mb": round(rss_mb, 1),
        },
        "baselines": {"bare_scan_seconds": round(baseline_s, 4)},
        "ratios": {"in_sync_vs_bare_scan": round(float(in_sync["seconds"]) / baseline_s, 2)},
        "params": {"events": events, "tickets": tickets, "quick": quick},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller store, under a minute")
    args = parser.parse_args()
    result = asyncio.run(run(args.quick))
    print(json.dumps(result))  # noqa: T201


if __name__ == "__main__":
    main()
