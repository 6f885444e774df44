"""After the load: wait (bounded) for the pipeline to settle, then gather the facts the
invariants are checked on: the event store, the topics, the mail sink and `sla replay --live`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_binary_file, policy
from typing import Any

import asyncpg

from bench.chaoskit.stack import ROOT, DevStack
from bench.chaoskit.topics import Record, read_topic


@dataclass(frozen=True)
class StoredEvent:
    ticket_id: str
    version: int
    event_id: str
    type: str
    occurred_at: datetime
    recorded_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class Mail:
    message_id: str | None
    received_at: float | None
    file: str
    subject: str


@dataclass
class Facts:
    events: list[StoredEvent] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    topics: dict[str, list[Record]] = field(default_factory=dict)
    topic_reads: dict[str, dict[str, Any]] = field(default_factory=dict)
    mails: list[Mail] = field(default_factory=list)
    replay: dict[str, Any] = field(default_factory=dict)
    settle: dict[str, Any] = field(default_factory=dict)


async def _pending(conn: asyncpg.Connection) -> dict[str, int]:
    out: dict[str, int] = {}
    queries = {
        "intake_outbox": "SELECT count(*) FROM outbox WHERE published_at IS NULL",
        "service_outbox": "SELECT count(*) FROM service_outbox WHERE published_at IS NULL",
        "notifications_pending": "SELECT count(*) FROM notifications WHERE status = 'pending'",
    }
    for name, sql in queries.items():
        try:
            out[name] = int(await conn.fetchval(sql))
        except asyncpg.PostgresError:
            out[name] = -1
    return out


async def settle(
    stack: DevStack, not_before: float, timeout_s: float, quiet_s: float, log: Any
) -> dict[str, Any]:
    """Until every outbox is drained, no notification is pending and the mail sink has been
    quiet for `quiet_s`; at most `timeout_s` after `not_before` (a wall-clock instant)."""
    began = time.time()
    while time.time() < not_before:
        await asyncio.sleep(0.5)
    give_up = max(time.time(), not_before) + timeout_s
    last_count, last_change = -1, time.time()
    pending: dict[str, int] = {}
    settled = False
    while time.time() < give_up and stack.alive():
        try:
            conn = await asyncpg.connect(stack.database_url, timeout=5)
            try:
                pending = await _pending(conn)
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            pending = {"error": -1}
            log(f"settle: database not answering ({type(exc).__name__})")
        count = len(stack.mail_messages())
        if count != last_count:
            last_count, last_change = count, time.time()
        drained = bool(pending) and all(v == 0 for v in pending.values())
        if drained and time.time() - last_change >= quiet_s:
            settled = True
            break
        await asyncio.sleep(1.0)
    return {
        "settled": settled,
        "seconds": round(time.time() - began, 1),
        "pending": pending,
        "mails": last_count,
    }


async def store_facts(database_url: str) -> tuple[list[StoredEvent], list[dict[str, Any]]]:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT ticket_id::text AS ticket_id, version, event_id::text AS event_id, type, "
            "occurred_at, recorded_at, envelope->'data' AS data FROM events"
        )
        events = [
            StoredEvent(
                r["ticket_id"],
                r["version"],
                r["event_id"],
                r["type"],
                r["occurred_at"],
                r["recorded_at"],
                json.loads(r["data"]) if isinstance(r["data"], str) else dict(r["data"] or {}),
            )
            for r in rows
        ]
        try:
            notes = await conn.fetch(
                "SELECT id::text AS id, ticket_id, channel, recipient, template, "
                "source_event_id::text AS source_event_id, source_type, status, attempts "
                "FROM notifications"
            )
        except asyncpg.PostgresError:
            notes = []
        return events, [dict(n) for n in notes]
    finally:
        await conn.close()


def read_mails(stack: DevStack) -> list[Mail]:
    """Every message in the sink's folder with its Message-ID (the eml files are the truth;
    dev-stack.json's list gives the time each arrived)."""
    received: dict[str, float] = {}
    subjects: dict[str, str] = {}
    for entry in stack.mail_messages():
        try:
            received[str(entry["file"])] = datetime.fromisoformat(entry["received_at"]).timestamp()
            subjects[str(entry["file"])] = str(entry.get("subject", ""))
        except (KeyError, TypeError, ValueError):
            continue
    mails: list[Mail] = []
    for path in sorted((stack.var_dir / "mail").glob("*.eml")):
        with path.open("rb") as handle:
            message = message_from_binary_file(handle, policy=policy.default)
        raw_id = message.get("Message-ID")
        mails.append(
            Mail(
                str(raw_id).strip() if raw_id else None,
                received.get(str(path)),
                str(path),
                subjects.get(str(path), str(message.get("Subject", ""))),
            )
        )
    return mails


def run_replay(stack: DevStack, timeout_s: float) -> dict[str, Any]:
    """`ticketflow sla replay --database-url URL --live`: its JSON, or why there is none."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers}
    env.pop("DATABASE_URL", None)
    argv = [
        sys.executable,
        "-m",
        "services.cli.main",
        "sla",
        "replay",
        "--database-url",
        stack.database_url,
        "--live",
        "--workers",
        "1",
    ]
    began = time.monotonic()
    try:
        done = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    seconds = round(time.monotonic() - began, 1)
    if done.returncode != 0:
        return {
            "error": f"exit {done.returncode}: {done.stderr.strip()[-500:]}",
            "seconds": seconds,
        }
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        return {"error": f"no JSON on stdout: {done.stdout[-300:]}", "seconds": seconds}
    result["cli_seconds"] = seconds
    return result


TOPICS = (
    "ticketflow.ticket-events",
    "ticketflow.sla-events",
    "ticketflow.escalations",
    "ticketflow.sla-state",
)


async def gather(stack: DevStack, replay_timeout_s: float, log: Any) -> Facts:
    facts = Facts()
    facts.events, facts.notifications = await store_facts(stack.database_url)
    log(f"store: {len(facts.events)} events, {len(facts.notifications)} notifications")
    for topic in TOPICS:
        records, how = await read_topic(stack.bootstrap_servers, topic)
        facts.topics[topic] = records
        facts.topic_reads[topic] = how
        log(f"topic {topic}: {how}")
    facts.mails = read_mails(stack)
    log(f"mail sink: {len(facts.mails)} messages")
    facts.replay = await asyncio.to_thread(run_replay, stack, replay_timeout_s)
    live = facts.replay.get("live", {})
    log(
        f"sla replay --live: {facts.replay.get('tickets')} tickets, "
        f"differing {live.get('differing')} {facts.replay.get('error', '')}"
    )
    return facts
