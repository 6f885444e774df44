"""Which errors mean "the database is not there right now" rather than "this request is wrong".

Requests that meet one answer 503 with `Retry-After`; background loops back off and retry."""

from __future__ import annotations

import asyncpg

DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError (pool acquire, connect) is one too
    asyncpg.PostgresConnectionError,  # class 08: the connection broke mid-statement
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutting down, crashed, starting up
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


def database_unavailable(error: BaseException) -> bool:
    if isinstance(error, DATABASE_UNAVAILABLE):
        return True
    # asyncpg reports a pooled connection that died under it as an InterfaceError.
    return isinstance(error, asyncpg.InterfaceError) and "connection" in str(error).lower()
