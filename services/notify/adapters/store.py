"""PostgreSQL persistence of notify: tickets it has seen, subscriptions (signing secrets
sealed), account templates and the delivery log (one row per notification, the row's id
deterministic); it reads the accounts' approved contacts from intake's `contacts` table."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.common import tracing
from services.notify.adapters.secret_box import SecretBox, UnreadableSecret
from services.notify.domain.notifications import Attempted, Capacity, LaneRule, NewNotification
from services.notify.domain.routing import Subscription


async def remember_ticket(
    conn: asyncpg.Connection,
    ticket_id: str,
    account: str,
    number: str | None,
    contact: str | None,
    subject: str | None,
    priority: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO notify_tickets (ticket_id, account, number, contact, subject, priority) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ticket_id) DO UPDATE SET "
        "number = coalesce($3, notify_tickets.number), "
        "contact = coalesce($4, notify_tickets.contact), "
        "subject = coalesce($5, notify_tickets.subject), "
        "priority = coalesce($6, notify_tickets.priority)",
        ticket_id,
        account,
        number,
        contact,
        subject,
        priority,
    )


async def ticket(conn: asyncpg.Connection, ticket_id: str) -> dict[str, str | None]:
    row = await conn.fetchrow("SELECT * FROM notify_tickets WHERE ticket_id = $1", ticket_id)
    return dict(row) if row is not None else {}


async def subscriptions(conn: asyncpg.Connection, account: str) -> list[Subscription]:
    rows = await conn.fetch(
        "SELECT id, account, events FROM webhook_subscriptions "
        "WHERE account = $1 AND disabled_at IS NULL ORDER BY id",
        account,
    )
    return [Subscription(row["id"], row["account"], frozenset(row["events"])) for row in rows]


async def account_contacts(conn: asyncpg.Connection, account: str) -> list[str]:
    """The account's approved contacts (intake's `contacts` table, in the same database as
    the `api_keys` the API checks), lower-cased."""
    rows = await conn.fetch(
        "SELECT DISTINCT lower(email) AS email FROM contacts "
        "WHERE account_id = $1 AND role = 'approved' ORDER BY 1",
        account,
    )
    return [row["email"] for row in rows]


async def template_override(
    conn: asyncpg.Connection, account: str, name: str
) -> tuple[str, str] | None:
    row = await conn.fetchrow(
        "SELECT subject, body FROM notification_templates WHERE account = $1 AND name = $2",
        account,
        name,
    )
    return (row["subject"], row["body"]) if row is not None else None


async def insert(conn: asyncpg.Connection, rows: Sequence[NewNotification], now: datetime) -> int:
    """Insert the notifications not logged yet; return how many were new. Each keeps the
    trace it was planned in, for its sends to continue."""
    if not rows:
        return 0
    inserted: list[asyncpg.Record] = await conn.fetch(
        "INSERT INTO notifications (id, ticket_id, account, channel, recipient, template, "
        "source_event_id, source_type, subject, body, status, next_attempt_at, traceparent) "
        "SELECT * , 'pending', $11::timestamptz, $12::text FROM unnest($1::uuid[], $2::text[], "
        "$3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::text[], $9::text[], "
        "$10::bytea[]) ON CONFLICT (id) DO NOTHING RETURNING id",
        [row.id for row in rows],
        [row.ticket_id for row in rows],
        [row.account for row in rows],
        [row.channel for row in rows],
        [row.recipient for row in rows],
        [row.template for row in rows],
        [row.source_event_id for row in rows],
        [row.source_type for row in rows],
        [row.subject for row in rows],
        [row.body for row in rows],
        now,
        tracing.current().get("traceparent"),
    )
    return len(inserted)


LANE = "(CASE WHEN channel = 'webhook' THEN recipient ELSE channel END)"
"""A row's lane, exactly as indexed by `notifications_due_lane` (migration 003): the
recipient for the channels of `PER_RECIPIENT_LANES`, the channel for every other one."""
PER_RECIPIENT_LANES = frozenset({"webhook"})
"""The channels whose lanes are their recipients in `LANE` (and its index)."""


def check_lanes(rules: Mapping[str, LaneRule]) -> None:
    """Refuse channels whose lanes (`rules`, by channel) are not the lanes `LANE` computes:
    a new channel with one lane per recipient needs `LANE` and its index changed first."""
    for channel, rule in rules.items():
        if rule.per_recipient != (channel in PER_RECIPIENT_LANES):
            kind = "one lane per recipient" if rule.per_recipient else "one lane"
            raise ValueError(
                f"channel {channel!r} has {kind}, but the delivery log's lane index "
                "(store.LANE, migration 003) gives it the other kind"
            )


async def claim(
    conn: asyncpg.Connection,
    now: datetime,
    lease_until: datetime,
    limit: int,
    capacity: Capacity,
) -> list[asyncpg.Record]:
    """Due pending notifications that fit the capacity (per lane, oldest first, so a lane
    with a backlog does not hold up the others; per channel for the channels capped
    together), with their attempt counted and leased until `lease_until` (a crashed
    sender's rows come back after the lease), with webhook URL and sealed secret. Run it in
    a transaction of its own."""
    busy = dict(capacity.busy)
    slots = dict(capacity.slots)
    free = {channel: max(n, 0) for channel, n in capacity.channel_free.items()}
    # The claim commits durably: it counts the attempt, and an attempt count lost in a
    # database crash would let a crash-looping send retry past its maximum attempts.
    rows: list[asyncpg.Record] = await conn.fetch(
        # The lanes with due rows (a skip scan of notifications_due_lane), then each lane's
        # oldest due rows, as many as it has room for, then as many of each capped
        # channel's rows as the channel has room for.
        f"WITH RECURSIVE lanes(lane) AS (SELECT min({LANE}) FROM notifications "
        "WHERE status = 'pending' AND next_attempt_at <= $1 "
        f"UNION ALL SELECT (SELECT min({LANE}) FROM notifications WHERE status = 'pending' "
        f"AND next_attempt_at <= $1 AND {LANE} > lanes.lane) FROM lanes "
        "WHERE lanes.lane IS NOT NULL), "
        "fitting AS (SELECT d.id, d.next_attempt_at, d.channel, l.lane FROM lanes l "
        "LEFT JOIN unnest($5::text[], $6::int[]) AS b(lane, n) ON b.lane = l.lane "
        "LEFT JOIN unnest($8::text[], $9::int[]) AS s(lane, n) ON s.lane = l.lane "
        "CROSS JOIN LATERAL (SELECT id, next_attempt_at, channel FROM notifications "
        f"WHERE status = 'pending' AND {LANE} = l.lane AND next_attempt_at <= $1 "
        "AND NOT (id = ANY($4::uuid[])) ORDER BY next_attempt_at "
        "LIMIT greatest(coalesce(s.n, $7::int) - coalesce(b.n, 0), 0)) d "
        "WHERE l.lane IS NOT NULL), "
        "ranked AS (SELECT f.*, row_number() OVER (PARTITION BY f.channel "
        "ORDER BY f.next_attempt_at, f.id) AS channel_rank FROM fitting f), "
        "picked AS (SELECT n.id FROM notifications n JOIN ranked r ON r.id = n.id "
        "LEFT JOIN unnest($10::text[], $11::int[]) AS c(channel, free) "
        "ON c.channel = r.channel "
        "WHERE n.status = 'pending' AND n.next_attempt_at <= $1 "
        "AND (c.free IS NULL OR r.channel_rank <= c.free) "
        "ORDER BY r.next_attempt_at LIMIT $3 FOR UPDATE OF n SKIP LOCKED), "
        "claimed AS (UPDATE notifications n SET attempts = n.attempts + 1, "
        "next_attempt_at = $2 FROM picked WHERE n.id = picked.id RETURNING n.*) "
        "SELECT c.*, s.url, s.secret_sealed FROM claimed c LEFT JOIN webhook_subscriptions s "
        "ON c.channel = 'webhook' AND s.id = c.recipient AND s.disabled_at IS NULL "
        "ORDER BY c.next_attempt_at, c.created_at",
        now,
        lease_until,
        limit,
        list(capacity.in_flight),
        list(busy),
        list(busy.values()),
        capacity.recipient_slots,
        list(slots),
        list(slots.values()),
        list(free),
        list(free.values()),
    )
    return rows


async def release(conn: asyncpg.Connection, ids: Sequence[uuid.UUID], now: datetime) -> None:
    """Give claimed rows back unsent: the attempt not counted, due at `now`."""
    await conn.execute(
        "UPDATE notifications SET attempts = attempts - 1, next_attempt_at = $2 "
        "WHERE id = ANY($1::uuid[]) AND status = 'pending'",
        list(ids),
        now,
    )


async def finish(conn: asyncpg.Connection, results: Sequence[Attempted], now: datetime) -> None:
    await conn.execute(
        "UPDATE notifications n SET status = r.status, next_attempt_at = r.next_at, "
        "last_error = r.error, delivered_at = CASE WHEN r.status = 'delivered' "
        "THEN $5::timestamptz END FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], "
        "$4::text[]) AS r(id, status, next_at, error) WHERE n.id = r.id",
        [r.id for r in results],
        [r.status for r in results],
        [r.next_attempt_at for r in results],
        [r.error for r in results],
        now,
    )


async def next_due(pool: asyncpg.Pool, capacity: Capacity) -> datetime | None:
    """When the next notification that fits the capacity is due (rows in flight, and rows of
    full lanes and full channels, wait for a send to finish: the deliverer wakes its loop
    then)."""
    value: datetime | None = await pool.fetchval(
        "SELECT min(next_attempt_at) FROM notifications WHERE status = 'pending' "
        f"AND NOT (id = ANY($1::uuid[])) AND NOT ({LANE} = ANY($2::text[])) "
        "AND NOT (channel = ANY($3::text[]))",
        list(capacity.in_flight),
        capacity.full_lanes(),
        capacity.full_channels(),
    )
    return value


async def listing(
    pool: asyncpg.Pool,
    accounts: Sequence[str],
    ticket_id: str | None,
    status: str | None,
    limit: int,
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT id, ticket_id, account, channel, recipient, template, source_event_id, "
        "source_type, subject, status, attempts, next_attempt_at, last_error, created_at, "
        "delivered_at FROM notifications WHERE account = ANY($1::text[]) "
        "AND ($2::text IS NULL OR ticket_id = $2) AND ($3::text IS NULL OR status = $3) "
        "ORDER BY created_at DESC LIMIT $4",
        list(accounts),
        ticket_id,
        status,
        limit,
    )
    return rows


async def all_accounts(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT DISTINCT account FROM notifications")
    return [row["account"] for row in rows]


async def redeliver(pool: asyncpg.Pool, ids: Sequence[uuid.UUID] | None, now: datetime) -> int:
    """Put dead notifications (the given ones, or all) back in the queue, attempts reset."""
    status: str = await pool.execute(
        "UPDATE notifications SET status = 'pending', attempts = 0, next_attempt_at = $2, "
        "last_error = NULL WHERE status = 'dead' AND ($1::uuid[] IS NULL OR id = ANY($1))",
        list(ids) if ids is not None else None,
        now,
    )
    return int(status.split()[-1])


async def create_subscription(
    pool: asyncpg.Pool, account: str, url: str, events: Sequence[str], box: SecretBox
) -> tuple[str, str]:
    """A new subscription: (id, signing secret). The secret is returned once and stored
    sealed only."""
    subscription_id = f"wh_{secrets.token_hex(6)}"
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    await pool.execute(
        "INSERT INTO webhook_subscriptions (id, account, url, secret_sealed, events) "
        "VALUES ($1, $2, $3, $4, $5)",
        subscription_id,
        account,
        url,
        box.seal(secret),
        list(events),
    )
    return subscription_id, secret


@dataclass(frozen=True, slots=True)
class Sealing:
    sealed: int
    """Clear-text secrets (from before sealing) sealed."""
    resealed: int
    """Secrets sealed under an older key, sealed again under the first key."""
    unreadable: list[str]
    """Subscriptions whose secret no configured key opens."""


async def seal_secrets(pool: asyncpg.Pool, box: SecretBox) -> Sealing:
    """Seal every clear-text secret and re-seal every secret not sealed under the current
    key; safe with several replicas starting together (rows are locked one pass)."""
    sealed = resealed = 0
    unreadable: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT id, secret, secret_sealed FROM webhook_subscriptions "
            "WHERE secret IS NOT NULL OR secret_sealed IS NOT NULL ORDER BY id FOR UPDATE"
        )
        for row in rows:
            if row["secret"] is not None:
                value, sealed = box.seal(row["secret"]), sealed + 1
            elif box.is_current(row["secret_sealed"]):
                continue
            else:
                try:
                    value, resealed = box.reseal(row["secret_sealed"]), resealed + 1
                except UnreadableSecret:
                    unreadable.append(row["id"])
                    continue
            await conn.execute(
                "UPDATE webhook_subscriptions SET secret_sealed = $2, secret = NULL WHERE id = $1",
                row["id"],
                value,
            )
    return Sealing(sealed, resealed, unreadable)


async def disable_subscription(pool: asyncpg.Pool, subscription_id: str) -> bool:
    """Stop a subscription: nothing new is planned for it, queued deliveries go dead."""
    status: str = await pool.execute(
        "UPDATE webhook_subscriptions SET disabled_at = now() "
        "WHERE id = $1 AND disabled_at IS NULL",
        subscription_id,
    )
    return status.endswith(" 1")


async def list_subscriptions(pool: asyncpg.Pool, account: str | None) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT id, account, url, events, created_at, disabled_at FROM webhook_subscriptions "
        "WHERE $1::text IS NULL OR account = $1 ORDER BY created_at",
        account,
    )
    return rows


async def put_template(
    pool: asyncpg.Pool, account: str, name: str, subject: str, body: str
) -> None:
    await pool.execute(
        "INSERT INTO notification_templates (account, name, subject, body) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (account, name) DO UPDATE SET "
        "subject = excluded.subject, body = excluded.body, updated_at = now()",
        account,
        name,
        subject,
        body,
    )


async def status_counts(pool: asyncpg.Pool) -> dict[str, int]:
    """Pending and dead notifications (delivered ones are not counted: the table grows)."""
    rows = await pool.fetch(
        "SELECT status, count(*) AS n FROM notifications WHERE status <> 'delivered' "
        "GROUP BY status"
    )
    return {row["status"]: int(row["n"]) for row in rows}
