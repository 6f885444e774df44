"""The Escalations page's pure parts: who acknowledges, the flash of the last ack (only for
an escalation the viewer can see) and the ids and statuses read from the query."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.console.domain.history import EscalationRow
from services.console.entrypoints.escalations_page import Flash, flash_of, parse_id, valid_by

AT = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)


def row(number: str | None = "TF-123", by: str | None = None) -> EscalationRow:
    return EscalationRow(
        uuid.uuid4(),
        "t-1",
        number,
        "acme",
        "voximplant@1",
        "sev2",
        "first_response",
        "sla.breached",
        False,
        1,
        "acknowledged" if by else "raised",
        AT,
        AT,
        AT,
        by,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jane", "jane"),
        ("  jane@noc \n", "jane@noc"),
        ("x" * 200, "x" * 200),
        ("x" * 201, None),
        ("", None),
        ("   ", None),
        (None, None),
        ("ja\x00ne", None),
    ],
)
def test_who_acknowledges_is_trimmed_and_bounded(raw: str | None, expected: str | None) -> None:
    assert valid_by(raw) == expected


def test_the_flash_names_the_escalation_and_who_acknowledged_it() -> None:
    mine = row(by="jane")
    assert flash_of([mine], mine.escalation_id, None, 0) == Flash(
        "Acknowledged TF-123 first response as jane.", True
    )
    bare = row(number=None)
    assert flash_of([bare], bare.escalation_id, None, 0) == Flash(
        "Acknowledged t-1 first response.", True
    )


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (404, "the escalation service does not know it for your API key"),
        (409, "it is already resolved"),
        (401, "your API key is no longer valid; sign in again"),
        (0, "the escalation service could not be reached; try again"),
        (502, "the escalation service answered HTTP 502"),
    ],
)
def test_a_failed_ack_says_why(status: int, why: str) -> None:
    mine = row()
    assert flash_of([mine], None, mine.escalation_id, status) == Flash(
        f"Could not acknowledge TF-123 first response: {why}.", False
    )


def test_an_escalation_the_viewer_cannot_see_is_never_named() -> None:
    mine, elsewhere = row(), uuid.uuid4()
    assert flash_of([mine], elsewhere, None, 0) is None
    failed = flash_of([mine], None, elsewhere, 404)
    assert failed is not None and "TF-123" not in failed.text
    assert flash_of([mine], None, None, 0) is None


def test_ids_from_the_query_or_the_path_parse_or_are_ignored() -> None:
    known = uuid.uuid4()
    assert parse_id(str(known)) == known
    for bad in (None, "", "not-an-id", "x" * 100):
        assert parse_id(bad) is None
