"""Which errors mean "the database or the broker is unreachable right now" (retry the same
work later) rather than "this work is wrong" (dead-letter it)."""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError, KafkaTimeoutError, KafkaUnavailableError

TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # admin/crash shutdown, "the database system is starting up"
    asyncpg.exceptions.OperatorInterventionError,
    # too many connections, out of memory or disk
    asyncpg.exceptions.InsufficientResourcesError,
    # a produce request not acknowledged in time, no broker reachable
    KafkaTimeoutError,
    KafkaUnavailableError,
)


def is_transient(exc: BaseException) -> bool:
    """True for connection-level database errors and retriable broker errors."""
    if isinstance(exc, TRANSIENT):
        return True
    return isinstance(exc, KafkaError) and bool(exc.retriable)
