from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.domain.lifecycle import TransitionRefused, next_status
from services.intake.domain.opening import Refusal, event_time
from services.intake.domain.ticket_number import find_in, is_valid, new_ticket_number


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_ticket_numbers_validate_and_catch_any_single_digit_typo(body: str) -> None:
    number = new_ticket_number(lambda n: body)
    assert is_valid(number)
    digits = [i for i, c in enumerate(number) if c.isdigit()]
    for position, replacement in itertools.product(digits, "0123456789"):
        if number[position] != replacement:
            typo = number[:position] + replacement + number[position + 1 :]
            assert not is_valid(typo)


def test_ticket_number_is_found_in_an_email_subject() -> None:
    number = new_ticket_number(lambda n: "123456789")
    assert find_in(f"RE: [{number}] still no dial tone") == number
    assert find_in("RE: TF-1234-567890 typo") is None


def test_lifecycle() -> None:
    assert next_status("open", "ticket.awaiting_customer") == "awaiting_customer"
    assert next_status("awaiting_customer", "ticket.customer_replied") == "open"
    assert next_status("closed", "ticket.comment_added") == "closed"
    assert next_status("closed", "ticket.reopened") == "open"
    with pytest.raises(TransitionRefused, match="allowed now"):
        next_status("closed", "ticket.responded")


def test_event_time_limits() -> None:
    now = datetime(2026, 11, 17, tzinfo=UTC)
    assert event_time(None, now) == now
    assert event_time(now - timedelta(hours=3), now) == now - timedelta(hours=3)
    assert event_time(now + timedelta(seconds=30), now) == now + timedelta(seconds=30)
    for bad in (now + timedelta(minutes=10), now - timedelta(days=8), datetime(2026, 11, 17)):
        with pytest.raises(Refusal):
            event_time(bad, now)


def test_hosted_voice_subject_format_is_parsed() -> None:
    from services.intake.domain.inbound_email import parse_subject
    from shared.policy import load_policies

    policy = load_policies()["hosted-voice"]
    # "CUSTOMER Name – Location Address – Issue Description – Priority Level"
    parsed = parse_subject(
        "ACME Corp – 12 Main St, Springfield – No dial tone on all lines – Priority 1", policy
    )
    assert (parsed.customer, parsed.location, parsed.issue, parsed.priority) == (
        "ACME Corp",
        "12 Main St, Springfield",
        "No dial tone on all lines",
        "p1",
    )
    hyphen = parse_subject("ACME - HQ - Portal down - P2", policy)
    assert (hyphen.issue, hyphen.priority) == ("Portal down", "p2")
    loose = parse_subject("help, phones are dead", policy)
    assert (loose.issue, loose.priority) == ("help, phones are dead", None)


def test_priority_words_map_to_the_policy() -> None:
    from services.intake.domain.inbound_email import normalise_priority, strip_reply_prefixes
    from shared.policy import load_policies

    policies = load_policies()
    assert normalise_priority("Severity II", policies["voximplant"]) == "sev2"
    assert normalise_priority("High", policies["voipster"]) == "high"
    assert normalise_priority("Urgent", policies["voipster"]) is None
    assert strip_reply_prefixes("RE: Fwd: re: subject") == "subject"
