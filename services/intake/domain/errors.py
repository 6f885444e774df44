"""What intake refuses, as the domain and its use cases say it; `entrypoints/errors.py` maps
each to its HTTP problem in one table.

The exceptions are plain (not frozen) dataclasses: Starlette sets `__traceback__` on an
exception it hands to a handler, which a frozen dataclass refuses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


class TicketNotFound(LookupError):
    """No such ticket, or one of an account the caller cannot see (it looks absent)."""


class UnknownAccount(LookupError):
    pass


class AccountExists(Exception):
    pass


class TicketNumberTaken(Exception):
    """The drawn ticket number is already in use: draw another."""


@dataclass
class VersionConflict(Exception):
    ticket_id: uuid.UUID
    expected: int
    current: int

    def __str__(self) -> str:
        return f"ticket is at version {self.current}, not {self.expected}"


@dataclass
class Refused(Exception):
    """A request the policy or its own facts refuse (HTTP 422): `title` says what kind,
    `reason` why and what to do, `field` which part of the request, if one."""

    title: str
    reason: str
    field: str | None = None
    policy: str | None = None

    def __str__(self) -> str:
        return self.reason


@dataclass
class Unanswered(Exception):
    """A request the use case cannot answer now: `title` says what kind, `reason` why."""

    title: str
    reason: str

    def __str__(self) -> str:
        return self.reason


class Unavailable(Unanswered):
    """A part the use case needs is not there or not answering (HTTP 503)."""


class NotYet(Unanswered):
    """The answer does not exist yet; retrying shortly may find it (HTTP 404)."""
