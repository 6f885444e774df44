"""Benchmark: the console's *At risk* page (`GET /at-risk`, server-rendered) over a read model
of 10,000 open tickets, beside the bare query of the same rows.

Measured in the same run, against the same embedded PostgreSQL (127.0.0.1, a fresh data
directory under /tmp), signed in as the admin (every account):
  system    the console's web app as bootstrap wires it (console_deps + create_app), driven
            in-process through httpx's ASGITransport with the session cookie from POST
            /signin: the at-risk query, the projection status, the filter choices, each row's
            view (zones, time left), the page's version and the Jinja render; unfiltered
            and filtered by one account
  baseline  the read model's at-risk SELECT itself (PostgresReadModel.at_risk's SQL and
            parameters, the same limit), straight on asyncpg, rows left as records; also
            the three SELECTs the page runs (at-risk, status, filter choices), bare
The read model is seeded through the projection's use cases (Projection.on_ticket with
`ticket.opened`, on_clock with `sla.clock_started` per metric, then some warnings, pauses
and breaches), one transaction per event as the consumer applies them.
Requests are sequential (one at a time): throughput is 1 / the mean time of one.
Target: the page's p99 < 300 ms.

    python bench/console_at_risk.py [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import pstats
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.runtime import migrate_service  # noqa: E402

# The read model's own SQL fragments: the baseline runs the very SELECT the page does.
from services.console.adapters.postgres import _COLUMNS, _NEXT_FIRST, _SCOPE  # noqa: E402
from services.console.bootstrap import MIGRATION_LOCK, PACKAGE, console_deps  # noqa: E402
from services.console.domain.at_risk import AT_RISK_STATUSES, ClockChange, TicketFacts  # noqa: E402
from services.console.domain.history import HistoryEvent  # noqa: E402
from services.console.entrypoints.web import create_app  # noqa: E402
from services.console.service_layer.ports import AtRiskQuery  # noqa: E402
from services.console.service_layer.projection import Projection  # noqa: E402
from services.console.settings import ConsoleSettings  # noqa: E402
from services.devstack.postgres import EmbeddedPostgres  # noqa: E402
from services.devstack.provisioning import ensure_database  # noqa: E402
from shared.events.types import EVENT_TYPES  # noqa: E402

TARGET_P99_MS = 300.0
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"
SECRET = "bench-console-secret-0123456789abcdef"
ACCOUNTS = {
    "acme": "voipster@1",
    "globex": "voximplant@1",
    "initech": "hosted-voice@1",
    "umbrella": "voximplant@1",
    "hooli": "kolmisoft-mor@1",
    "stark": "voipster@1",
}
PRIORITIES = {
    "voipster@1": ("emergency", "high", "normal", "low"),
    "voximplant@1": ("sev1", "sev2", "sev3", "sev4"),
    "hosted-voice@1": ("p1", "p2", "p3", "p4"),
    "kolmisoft-mor@1": ("high", "medium", "low"),
}
METRICS = {
    "voipster@1": ("first_response",),
    "voximplant@1": ("first_response", "resolution"),
    "hosted-voice@1": ("first_response", "resolution"),
    "kolmisoft-mor@1": ("first_response",),
}
FILTERED = "globex"
"""The account of the filtered requests."""
SEED_CONCURRENCY = 8
WARMUP = 10
PHASE_SECONDS = 180.0
"""No phase measures longer than this, whatever its count."""
SQL = f"SELECT {_COLUMNS} FROM console_deadlines WHERE {_SCOPE} ORDER BY {_NEXT_FIRST} LIMIT $6"
STATUS_SQL = "SELECT newest_event_at, changes FROM console_projection"
CHOICES_SQL = (
    "SELECT DISTINCT account, policy, priority FROM console_deadlines "
    "WHERE status = ANY($1::text[]) AND ($2::text[] IS NULL OR account = ANY($2))"
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000, 2)


def figures(prefix: str, seconds: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_per_s": round(len(seconds) / sum(seconds), 1),
        f"{prefix}_p50_ms": pct(seconds, 0.5),
        f"{prefix}_p99_ms": pct(seconds, 0.99),
        f"{prefix}_max_ms": round(max(seconds) * 1000, 2),
    }


# --- the read model, seeded through the projection -------------------------------------------


def ticket_events(
    index: int, now: datetime, rng: random.Random
) -> tuple[HistoryEvent, TicketFacts, list[ClockChange]]:
    """One open ticket: its `ticket.opened` and the SLA events of its metrics."""
    account = list(ACCOUNTS)[index % len(ACCOUNTS)]
    policy = ACCOUNTS[account]
    priority = rng.choice(PRIORITIES[policy])
    ticket_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-console/{index}"))
    number = f"TF-{index:06d}"
    opened = now - timedelta(minutes=rng.uniform(1, 600))
    facts = TicketFacts(ticket_id, number, account, policy, priority)
    event = HistoryEvent(
        uuid.uuid4(),
        ticket_id,
        account,
        policy,
        "ticket.opened",
        opened,
        1,
        opened,
        EVENT_TYPES["ticket.opened"].schema_version,
        {"channel": "web", "priority": priority, "ticket_number": number},
    )
    changes = []
    for metric in METRICS[policy]:
        due = now + timedelta(minutes=rng.uniform(-120, 720))
        change = functools.partial(
            ClockChange,
            ticket_id=ticket_id,
            number=number,
            account=account,
            policy=policy,
            priority=priority,
            metric=metric,
        )
        changes.append(change(type="sla.clock_started", at=opened, due_at=due))
        fate = rng.random()
        if fate < 0.1:
            changes.append(
                change(type="sla.clock_paused", at=opened + timedelta(minutes=1), due_at=None)
            )
        elif due < now:
            changes.append(change(type="sla.breached", at=due, due_at=due))
        elif fate < 0.3:
            warned = max(opened, due - timedelta(minutes=30))
            changes.append(change(type="sla.warning", at=warned, due_at=due))
    return event, facts, changes


async def seed(projection: Projection, tickets: int, now: datetime) -> dict[str, Any]:
    rng = random.Random(19)
    seeded = [ticket_events(index, now, rng) for index in range(tickets)]
    slots = asyncio.Semaphore(SEED_CONCURRENCY)
    outcomes: Counter[str] = Counter()

    async def apply(event: HistoryEvent, facts: TicketFacts, changes: list[ClockChange]) -> None:
        async with slots:
            outcomes[await projection.on_ticket(event, facts)] += 1
            for change in changes:
                outcomes[await projection.on_clock(uuid.uuid4(), change, change.at)] += 1

    began = time.perf_counter()
    for start in range(0, len(seeded), 1000):
        await asyncio.gather(*(apply(*one) for one in seeded[start : start + 1000]))
        log(f"  {min(start + 1000, tickets):,} tickets projected")
    elapsed = time.perf_counter() - began
    events = sum(outcomes.values())
    assert set(outcomes) == {"applied"}, outcomes
    return {"events": events, "seconds": round(elapsed, 1), "events_per_s": round(events / elapsed)}


# --- the page and the bare query ------------------------------------------------------------


def form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF token in the sign-in form"
    return found.group(1)


async def sign_in(http: httpx.AsyncClient) -> None:
    form = await http.get("/signin")
    answer = await http.post(
        "/signin", data={"key": ADMIN_TOKEN, "csrf": form_token(form.text)}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/at-risk", answer.text


def shown_rows(html: str) -> int:
    return html.count("<tr class=")


async def timed(
    call: Callable[[], Awaitable[Any]], count: int, label: str
) -> tuple[list[float], Any]:
    """`count` sequential calls after a warm-up (fewer when the phase runs out of time)."""
    for _ in range(WARMUP):
        last = await call()
    seconds: list[float] = []
    ends = time.monotonic() + PHASE_SECONDS
    while len(seconds) < count and time.monotonic() < ends:
        began = time.perf_counter()
        last = await call()
        seconds.append(time.perf_counter() - began)
    log(f"  {label}: {len(seconds)} in {sum(seconds):.2f} s, p99 {pct(seconds, 0.99)} ms")
    return seconds, last


def page_call(http: httpx.AsyncClient, params: dict[str, str]) -> Callable[[], Awaitable[str]]:
    async def call() -> str:
        answer = await http.get("/at-risk", params=params)
        assert answer.status_code == 200, answer.status_code
        return answer.text

    return call


def query_call(pool: asyncpg.Pool, account: str | None) -> Callable[[], Awaitable[list[Any]]]:
    query = AtRiskQuery(None, account)
    args = (list(AT_RISK_STATUSES), None, query.account, query.policy, query.priority, query.limit)

    async def call() -> list[Any]:
        return list(await pool.fetch(SQL, *args))

    return call


def page_queries_call(pool: asyncpg.Pool, account: str | None) -> Callable[[], Awaitable[None]]:
    rows = query_call(pool, account)

    async def call() -> None:
        await rows()
        await pool.fetchrow(STATUS_SQL)
        await pool.fetch(CHOICES_SQL, list(AT_RISK_STATUSES), None)

    return call


async def profiled(call: Callable[[], Awaitable[Any]], count: int) -> dict[str, list[str]]:
    """cProfile over `count` page requests (the full listing on stderr): per request, the
    functions taking the most time themselves, and the console's own code by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        await call()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("tottime")
    stats.print_stats(40)
    log(out.getvalue())
    own, console = [], []
    for (path, line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{Path(path).name}:{line}({name})"
        own.append((row[2] / count * 1000, where))
        if "services/console" in path or path.endswith(".j2"):
            console.append((row[3] / count * 1000, where))
    return {
        "self": [f"{ms:.1f} ms {where}" for ms, where in sorted(own, reverse=True)[:15]],
        "console_cumulative": [
            f"{ms:.1f} ms {where}" for ms, where in sorted(console, reverse=True)[:15]
        ],
    }


async def measure(database_url: str, tickets: int, requests: int, profile: bool) -> dict[str, Any]:
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=SEED_CONCURRENCY + 2)
    assert pool is not None
    try:
        await migrate_service(pool, PACKAGE, MIGRATION_LOCK)
        settings = ConsoleSettings.model_validate(
            {
                "DATABASE_URL": database_url,
                "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
                "TICKETFLOW_ENVIRONMENT": "test",
                "TICKETFLOW_ADMIN_TOKEN": ADMIN_TOKEN,
                "secret": SECRET,
            }
        )
        deps = console_deps(settings, pool)
        now = datetime.now(UTC)
        log(f"seeding {tickets:,} open tickets through the projection ...")
        seeded = await seed(deps.projection, tickets, now)
        await pool.execute("ANALYZE")
        deadlines = await pool.fetchval(
            "SELECT count(*) FROM console_deadlines WHERE status = ANY($1::text[])",
            list(AT_RISK_STATUSES),
        )
        statuses = dict(
            await pool.fetch("SELECT status, count(*) FROM console_deadlines GROUP BY status")
        )
        log(f"  {seeded}; {deadlines:,} deadlines at risk {statuses}")

        app = create_app(http=settings)
        app.state.deps = deps
        transport = httpx.ASGITransport(app=app)
        results: dict[str, Any] = {}
        rss_before = psutil.Process().memory_info().rss
        async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as http:
            await sign_in(http)
            everything = page_call(http, {})
            filtered = page_call(http, {"account": FILTERED})
            log(f"page: {requests} GET /at-risk, unfiltered, then account={FILTERED} ...")
            results["page"], html = await timed(everything, requests, "page")
            results["page_rows"], results["page_kb"] = shown_rows(html), len(html) / 1024
            results["filtered"], html = await timed(filtered, requests, "page filtered")
            results["filtered_rows"] = shown_rows(html)
            rss_pages = psutil.Process().memory_info().rss
            log(f"baseline: {requests} bare at-risk SELECTs on asyncpg, both scopes ...")
            results["query"], rows = await timed(query_call(pool, None), requests, "query")
            results["query_rows"] = len(rows)
            results["query_filtered"], rows = await timed(
                query_call(pool, FILTERED), requests, "query filtered"
            )
            results["query_filtered_rows"] = len(rows)
            results["page_queries"], _ = await timed(
                page_queries_call(pool, None), requests, "the page's three queries"
            )
            slow = pct(results["page"], 0.99) > TARGET_P99_MS
            if profile or slow:
                log("profiling 10 unfiltered page requests ...")
                results["profile"] = await profiled(everything, 10)
        results["seed"] = seeded
        results["deadlines"] = deadlines
        results["statuses"] = statuses
        results["rss_page_delta_mb"] = (rss_pages - rss_before) / 2**20
    finally:
        await pool.close()
    return results


def run(quick: bool, profile: bool) -> dict[str, Any]:
    tickets, requests = (2_000, 50) if quick else (10_000, 300)
    workdir = Path(tempfile.mkdtemp(prefix="bench-console-", dir="/tmp"))
    server = EmbeddedPostgres(workdir / "postgres")
    try:
        database_url = asyncio.run(ensure_database(server.start(), "bench_console"))
        found = asyncio.run(measure(database_url, tickets, requests, profile))
        rss_mb = psutil.Process().memory_info().rss / 2**20
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    page, query = found["page"], found["query"]
    metrics = {
        **figures("page", page),
        "page_mean_ms": round(statistics.fmean(page) * 1000, 2),
        **figures("page_filtered", found["filtered"]),
        "rows_shown": found["page_rows"],
        "rows_shown_filtered": found["filtered_rows"],
        "page_kb": round(found["page_kb"], 1),
        "rss_mb": round(rss_mb, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "rss_growth_over_pages_mb": round(found["rss_page_delta_mb"], 1),
    }
    baselines = {
        **figures("bare_query", query),
        **figures("bare_query_filtered", found["query_filtered"]),
        **figures("bare_page_queries", found["page_queries"]),
        "bare_query_rows": found["query_rows"],
        "bare_query_filtered_rows": found["query_filtered_rows"],
    }
    result: dict[str, Any] = {
        "bench": "console_at_risk",
        "metrics": metrics,
        "baselines": baselines,
        "ratios": {
            "page_p50_vs_bare_query": round(
                metrics["page_p50_ms"] / baselines["bare_query_p50_ms"], 1
            ),
            "page_p99_vs_bare_query": round(
                metrics["page_p99_ms"] / baselines["bare_query_p99_ms"], 1
            ),
            "page_p99_vs_target": round(metrics["page_p99_ms"] / TARGET_P99_MS, 3),
        },
        "params": {
            "open_tickets": tickets,
            "deadlines_at_risk": found["deadlines"],
            "deadline_statuses": found["statuses"],
            "accounts": len(ACCOUNTS),
            "filter": {"account": FILTERED},
            "requests": requests,
            "warmup": WARMUP,
            "limit": AtRiskQuery(None).limit,
            "seeded_through": "Projection.on_ticket/on_clock",
            "seed": found["seed"],
            "transport": "httpx ASGITransport, in-process, sequential",
            "quick": quick,
            "targets": {"page_p99_ms": TARGET_P99_MS},
        },
    }
    if "profile" in found:
        result["profile_top_cumulative_per_request"] = found["profile"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="the console's At risk page, 10,000 tickets")
    parser.add_argument("--quick", action="store_true", help="2,000 tickets, 50 requests")
    parser.add_argument("--profile", action="store_true", help="cProfile page requests")
    args = parser.parse_args()
    print(orjson.dumps(run(args.quick, args.profile)).decode())


if __name__ == "__main__":
    main()
