"""Consumer tracking rows: written in the same transaction as a message's effect, so a
redelivered message finds its row and does nothing (STYLE.md 5)."""

from __future__ import annotations

import uuid

import asyncpg

TRACKING_DDL = """
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"""


async def first_time(conn: asyncpg.Connection, consumer: str, event_id: uuid.UUID) -> bool:
    """Record that `consumer` handles `event_id`; False when it already has (inside the
    caller's transaction: a rollback forgets the row together with the effect)."""
    status: str = await conn.execute(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        consumer,
        event_id,
    )
    return status.endswith(" 1")
