"""Intake's use cases on in-memory ports: what each stores, and what it refuses with
nothing stored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from services.intake.domain.errors import (
    AccountExists,
    Refused,
    TicketNotFound,
    Unavailable,
    VersionConflict,
)
from services.intake.domain.event_checks import EventRefused
from services.intake.domain.lifecycle import TransitionRefused
from services.intake.domain.opening import Account, OpenTicket
from services.intake.service_layer.accounts import NewAccount, create_account
from services.intake.service_layer.inbound import InboundEmail, take_email
from services.intake.service_layer.ports import Ports
from services.intake.service_layer.tickets import append_event, open_ticket
from shared.policy import load_policies
from tests.unit.intake_fakes import MemoryAccounts, MemoryTickets

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # Tue 10:00 in New York
POLICIES = load_policies()
ACME = Account(
    "acme",
    "Acme",
    "voipster",
    approved_contacts=frozenset({"noc@acme.example"}),
)
BETA = Account("beta", "Beta", "voipster", approved_contacts=frozenset({"ops@beta.example"}))
MINE = frozenset({"acme"})


def ports(
    store: MemoryTickets, accounts: MemoryAccounts, digits: Iterator[str] | None = None
) -> Ports:
    drawn = digits or (str(n).zfill(9) for n in range(100_000_000, 200_000_000))
    return Ports(
        store=store,
        accounts=accounts,
        policies=POLICIES,
        now=lambda: NOW,
        random_digits=lambda n: next(drawn)[:n],
        new_ticket_id=uuid.uuid4,
    )


def command(**overrides: object) -> OpenTicket:
    fields: dict[str, object] = {
        "account": "acme",
        "contact": "NOC@acme.example",
        "channel": "web",
        "priority": "normal",
        "subject": "No dial tone on trunk 3",
    }
    return OpenTicket(**(fields | overrides))  # type: ignore[arg-type]


async def test_opening_stores_the_decided_ticket_opened() -> None:
    store = MemoryTickets()
    opened = await open_ticket(ports(store, MemoryAccounts(ACME)), command())
    assert [e.type for e in store.events] == ["ticket.opened"]
    assert opened.policy == "voipster@1"
    assert opened.data["contact"] == "noc@acme.example"
    assert opened.time == NOW
    [row] = store.rows.values()
    assert (row.status, row.channel, row.number) == ("open", "web", opened.data["ticket_number"])


async def test_a_policy_refusal_names_the_policy_and_stores_nothing() -> None:
    store = MemoryTickets()
    with pytest.raises(Refused) as refused:
        await open_ticket(
            ports(store, MemoryAccounts(ACME)), command(channel="email", priority="emergency")
        )
    assert refused.value.title == "Ticket refused"
    assert refused.value.policy == "voipster@1"
    assert "web portal" in refused.value.reason
    assert store.events == []


async def test_a_taken_ticket_number_is_drawn_again_and_three_in_a_row_give_up() -> None:
    store = MemoryTickets()
    same = ports(store, MemoryAccounts(ACME), iter(["111111111"] * 10))
    first = await open_ticket(same, command())
    with pytest.raises(Unavailable):
        await open_ticket(same, command())
    assert len(store.events) == 1
    retried = ports(store, MemoryAccounts(ACME), iter(["111111111", "222222222"]))
    second = await open_ticket(retried, command())
    assert second.data["ticket_number"] != first.data["ticket_number"]


async def opened_ticket(
    store: MemoryTickets, accounts: MemoryAccounts, **overrides: object
) -> uuid.UUID:
    return uuid.UUID((await open_ticket(ports(store, accounts), command(**overrides))).subject)


async def test_appending_checks_the_policy_the_status_and_the_version() -> None:
    store, accounts = MemoryTickets(), MemoryAccounts(ACME)
    ticket_id = await opened_ticket(store, accounts, channel="email")
    wired = ports(store, accounts)

    async def append(event_type: str, version: int | None = None, **data: object) -> str:
        _recorded, status = await append_event(
            wired,
            ticket_id,
            event_type,
            dict(data),
            occurred_at=None,
            expected_version=version,
            accounts=MINE,
        )
        return status

    with pytest.raises(EventRefused, match="unknown priority 'urgent!!'"):
        await append("ticket.severity_changed", priority="urgent!!")
    with pytest.raises(EventRefused, match="opened by email"):
        await append("ticket.severity_changed", priority="emergency")
    with pytest.raises(TransitionRefused):
        await append("ticket.reopened")
    with pytest.raises(VersionConflict) as stale:
        await append("ticket.responded", version=7)
    assert stale.value.current == 1
    assert len(store.events) == 1  # none of the refused ones was written
    assert await append("ticket.severity_changed", version=1, priority="high") == "open"
    assert await append("ticket.resolved") == "resolved"
    row = store.rows[ticket_id]
    assert (row.priority, row.version, row.resolution) == ("high", 3, "resolution")


async def test_an_event_time_out_of_bounds_or_another_accounts_ticket_is_refused() -> None:
    store, accounts = MemoryTickets(), MemoryAccounts(ACME, BETA)
    ticket_id = await opened_ticket(store, accounts)
    wired = ports(store, accounts)
    with pytest.raises(Refused) as future:
        await append_event(
            wired,
            ticket_id,
            "ticket.responded",
            {},
            occurred_at=NOW + timedelta(hours=1),
            expected_version=None,
            accounts=MINE,
        )
    assert future.value.field == "occurred_at"
    with pytest.raises(TicketNotFound):
        await append_event(
            wired,
            ticket_id,
            "ticket.responded",
            {},
            occurred_at=None,
            expected_version=None,
            accounts=frozenset({"beta"}),
        )
    assert len(store.events) == 1


async def test_an_email_naming_a_ticket_is_a_reply_and_a_comment_once_closed() -> None:
    store, accounts = MemoryTickets(), MemoryAccounts(ACME)
    ticket_id = await opened_ticket(store, accounts)
    number = store.rows[ticket_id].number
    wired = ports(store, accounts)
    reply = InboundEmail(sender="noc@acme.example", subject=f"RE: [{number}] still down")
    taken = await take_email(wired, reply, MINE)
    assert (taken.action, taken.ticket_id, taken.version) == ("replied", ticket_id, 2)
    assert store.events[-1].data["contact"] == "noc@acme.example"
    with pytest.raises(Refused, match="not an approved contact of acme"):
        await take_email(
            wired, InboundEmail(sender="x@else.example", subject=f"[{number}] hi"), MINE
        )
    await append_event(
        wired,
        ticket_id,
        "ticket.closed",
        {},
        occurred_at=None,
        expected_version=None,
        accounts=MINE,
    )
    late = await take_email(wired, reply, MINE)
    assert (late.action, late.event_type) == ("commented", "ticket.comment_added")
    assert store.events[-1].data == {"body": "(empty message)", "public": True}


async def test_a_new_email_opens_a_ticket_for_the_one_account_that_approves_its_sender() -> None:
    store = MemoryTickets()
    both = Account("both", "Both", "voipster", approved_contacts=frozenset({"ops@beta.example"}))
    accounts = MemoryAccounts(ACME, BETA, both)
    wired = ports(store, accounts)
    email = InboundEmail(
        sender="NOC@acme.example",
        subject="ACME Corp – 12 Main St, Springfield – No dial tone – High",
        body="since 9am",
    )
    taken = await take_email(wired, email, frozenset({"acme", "beta"}))
    assert taken.action == "opened"
    [opened] = store.events
    assert (opened.data["priority"], opened.data["channel"]) == ("high", "email")
    assert opened.data["description"].startswith("Customer: ACME Corp\nLocation: 12 Main St")
    with pytest.raises(Refused, match="several accounts: beta, both"):
        await take_email(
            wired,
            InboundEmail(sender="ops@beta.example", subject="help"),
            frozenset({"beta", "both"}),
        )
    with pytest.raises(Refused, match="no ticket was opened"):
        await take_email(wired, InboundEmail(sender="x@y.example", subject="help"), MINE)
    assert len(store.events) == 1


async def test_an_account_is_created_only_with_what_its_policy_can_use() -> None:
    accounts = MemoryAccounts(ACME)
    with pytest.raises(Refused, match="no policy 'nope'"):
        await create_account(accounts, POLICIES, NewAccount("a1", "A", "nope"))
    with pytest.raises(Refused, match="voipster plans are"):
        await create_account(accounts, POLICIES, NewAccount("a1", "A", "voipster", plan="gold"))
    with pytest.raises(Refused) as override:
        await create_account(
            accounts,
            POLICIES,
            NewAccount("a1", "A", "voice1", target_overrides={"first_response": 1}),
        )
    assert override.value.field == "target_overrides.first_response"
    with pytest.raises(Refused, match="levels"):
        await create_account(
            accounts,
            POLICIES,
            NewAccount(
                "a1", "A", "voipster", escalation={"levels": [{"level": 1, "after_hours": -1}]}
            ),
        )
    assert accounts.created == []
    policy = await create_account(
        accounts,
        POLICIES,
        NewAccount("vx", "V", "voximplant", plan="gold", target_overrides={"resolution": 8}),
    )
    assert policy.ref.startswith("voximplant@")
    assert (await accounts.get("vx")).target_overrides == {"resolution": 8}
    with pytest.raises(AccountExists):
        await create_account(accounts, POLICIES, NewAccount("vx", "V", "voximplant"))


async def test_billing_events_are_checked_against_the_policy() -> None:
    """TAM time only where the policy has TAM hours; ESS only where it has ESS sessions."""
    store, accounts = MemoryTickets(), MemoryAccounts(ACME)
    ticket_id = await opened_ticket(store, accounts, channel="email")
    wired = ports(store, accounts)

    async def append(event_type: str, **data: object) -> str:
        _recorded, status = await append_event(
            wired,
            ticket_id,
            event_type,
            dict(data),
            occurred_at=None,
            expected_version=None,
            accounts=MINE,
        )
        return status

    work = {"by": "noc-1", "started_at": "2026-11-07T03:00:00+00:00", "minutes": 30}
    with pytest.raises(EventRefused, match="no Technical Account Manager hours") as tam:
        await append("ticket.work_logged", **work, rate="tam")
    assert tam.value.field == "data.rate"
    with pytest.raises(EventRefused, match="no Emergency Support Services") as ess:
        await append("ticket.ess_started")
    assert ess.value.field == "type"
    assert len(store.events) == 1
    assert await append("ticket.work_logged", **work, rate="standard") == "open"
    assert await append("ticket.determination_recorded", criticality="not_critical") == "open"


async def test_a_tam_ticket_after_the_months_tam_hours_is_redirected_to_the_support_email() -> None:
    """voximplant 6.3: "If the limit is exhausted TAM shall ... be entitled to redirect all
    Tickets and Client's questions to the Support Center's Email"."""
    vox = Account(
        "vox",
        "Vox",
        "voximplant",
        plan="silver",
        entitled_from=date(2026, 1, 1),
        approved_contacts=frozenset({"noc@vox.example"}),
    )
    accounts = MemoryAccounts(vox)
    wired = ports(MemoryTickets(), accounts)
    tam = command(account="vox", contact="noc@vox.example", channel="tam", priority="sev3")
    assert "redirected_to_support_email" not in (await open_ticket(wired, tam)).data["flags"]
    await accounts.record_tam_exhausted("vox", "2026-10", NOW)  # another month: no effect
    assert "redirected_to_support_email" not in (await open_ticket(wired, tam)).data["flags"]
    await accounts.record_tam_exhausted("vox", "2026-11", NOW)
    assert "redirected_to_support_email" in (await open_ticket(wired, tam)).data["flags"]
    by_email = command(account="vox", contact="noc@vox.example", channel="email", priority="sev3")
    assert "redirected_to_support_email" not in (await open_ticket(wired, by_email)).data["flags"]
