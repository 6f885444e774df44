"""Integers read from records are bounded: a version past PostgreSQL's `int` is refused where
it is decoded (and the record dead-lettered), never carried to a crash further on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.commands import TicketCommand
from shared.events import Envelope
from shared.limits import MAX_VERSION

NOW = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)


def envelope(sequence: int) -> Envelope:
    return Envelope(
        type="ticket.comment_added",
        source="test",
        subject=str(uuid.uuid4()),
        time=NOW,
        sequence=sequence,
        account="acme",
        policy="voximplant@1",
        data={"body": "hello"},
    )


def command(version: int) -> TicketCommand:
    return TicketCommand(
        id=uuid.uuid4(),
        type="close_by_timeout",
        ticket_id=uuid.uuid4(),
        based_on_version=version,
        issued_at=NOW,
        due_at=NOW,
        reason="test",
    )


def test_a_sequence_past_the_stores_int_is_refused() -> None:
    assert envelope(MAX_VERSION).sequence == MAX_VERSION
    with pytest.raises(ValidationError):
        envelope(MAX_VERSION + 1)
    with pytest.raises(ValidationError):
        envelope(99999999999999999999999)


def test_a_command_based_on_an_impossible_version_is_refused() -> None:
    assert command(MAX_VERSION).based_on_version == MAX_VERSION
    with pytest.raises(ValidationError):
        command(MAX_VERSION + 1)
