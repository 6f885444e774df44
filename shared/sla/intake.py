"""Intake-time rules: does the policy accept this ticket, and when do its clocks start?

Each rule of the policy's intake section is a small function: a refusal returns the reason
the ticket is refused (the first one wins, in `REFUSALS` order), a term returns the flags and
the metrics without a target it adds to an accepted ticket, and the cut-off moves the start of
the clocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.policy import Policy, plan_name
from shared.policy.schema import EntitlementRule


@dataclass(frozen=True, slots=True)
class Acceptance:
    accepted: bool
    rejection: str | None
    flags: tuple[str, ...]
    clock_start: datetime
    no_target_for: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Terms:
    """What one intake rule adds to an accepted ticket."""

    flags: tuple[str, ...] = ()
    no_target_for: frozenset[str] = frozenset()


_NO_TERMS = _Terms()
Refusal = Callable[[Policy, dict[str, Any]], str | None]
Term = Callable[[Policy, dict[str, Any]], _Terms]


DECIDING_FIELDS = ("priority", "plan", "approved_contact", "channel", "entitled", "spam")
"""The payload fields the time-independent rules read (refusals, entitlement, spam)."""


class _Absent:
    """A field the payload does not carry (the rules read some of those as true)."""


ABSENT = _Absent()
_KEYABLE = frozenset({str, bool, type(None), _Absent})
"""Types whose equal values are the same value (no `1 == True`): safe as memo keys."""


def decide_acceptance(policy: Policy, data: dict[str, Any], at: datetime) -> Acceptance:
    """Apply the policy's intake rules to a `ticket.opened` payload at event time `at`."""
    values = tuple(data.get(name, ABSENT) for name in DECIDING_FIELDS)
    if all(type(value) in _KEYABLE for value in values):
        static = policy.memoised(("sla.acceptance", values), lambda: _static_verdict(policy, data))
    else:  # a number, a list, an object: equal keys could differ in a message; no memo
        static = _static_verdict(policy, data)
    if isinstance(static, str):
        return Acceptance(False, static, (), at, frozenset())
    flags = list(static.flags)
    for off_hours in _off_hours_flags(policy, data, at):
        flags.append(off_hours)
    start = _after_cutoff(policy, data, at)
    if start is not None:
        flags.append("after_cutoff")
    return Acceptance(True, None, tuple(flags), start or at, static.no_target_for)


def _static_verdict(policy: Policy, data: dict[str, Any]) -> str | _Terms:
    """What the rules that do not read the time decide: the refusal reason, or the terms an
    accepted ticket gets from them. The same for every ticket with the same `DECIDING_FIELDS`,
    so memoised per policy: a policy opens thousands of tickets a second on a few terms."""
    for refusal in REFUSALS:
        reason = refusal(policy, data)
        if reason is not None:
            return reason
    flags: list[str] = []
    no_target: set[str] = set()
    for term in TERMS:
        found = term(policy, data)
        flags += found.flags
        no_target |= found.no_target_for
    return _Terms(tuple(flags), frozenset(no_target))


# --- refusals -----------------------------------------------------------------------------


def _unknown_priority(policy: Policy, data: dict[str, Any]) -> str | None:
    priority = data.get("priority")
    if priority in policy.priorities:
        return None
    return (
        f"unknown priority {priority!r} for {policy.id} "
        f"(expected one of: {', '.join(policy.priorities)})"
    )


def _unknown_plan(policy: Policy, data: dict[str, Any]) -> str | None:
    plan = data.get("plan")
    if policy.knows_plan(plan):
        return None
    return (
        f"unknown plan {plan!r} for {policy.id} (expected one of: "
        f"{', '.join(policy.plans) or 'no plans'})"
    )


def _missing_plan(policy: Policy, data: dict[str, Any]) -> str | None:
    if not policy.plan_required or data.get("plan") is not None:
        return None
    return f"{policy.id} needs the account's plan ({', '.join(policy.plans)}) on the ticket"


def _unapproved_contact(policy: Policy, data: dict[str, Any]) -> str | None:
    if not policy.intake.approved_contacts_only or data.get("approved_contact", True):
        return None
    return (
        "the contact is not on the account's approved contacts; only approved contacts "
        "may open tickets. Ask an account administrator to add them."
    )


def _channel_not_allowed(policy: Policy, data: dict[str, Any]) -> str | None:
    priority, channel = data.get("priority"), data.get("channel")
    for rule in policy.intake.channels:
        if priority in rule.priorities and channel not in rule.channels:
            return rule.rejection
    return None


def _entitlement_refused(policy: Policy, data: dict[str, Any]) -> str | None:
    rule = _entitlement_rule(policy, data)
    return rule.message if rule is not None and rule.without == "reject" else None


REFUSALS: tuple[Refusal, ...] = (
    _unknown_priority,
    _unknown_plan,
    _missing_plan,
    _unapproved_contact,
    _channel_not_allowed,
    _entitlement_refused,
)


# --- terms of an accepted ticket ----------------------------------------------------------


def _entitlement_terms(policy: Policy, data: dict[str, Any]) -> _Terms:
    rule = _entitlement_rule(policy, data)
    if rule is None:
        return _NO_TERMS
    return _Terms((rule.flag,) if rule.flag else (), frozenset(rule.no_target_for))


def _spam_terms(policy: Policy, data: dict[str, Any]) -> _Terms:
    spam = policy.intake.spam
    if spam is None or not data.get("spam") or data.get("channel") not in spam.channels:
        return _NO_TERMS
    return _Terms(("spam",), frozenset(spam.no_target_for))


TERMS: tuple[Term, ...] = (_entitlement_terms, _spam_terms)


def _off_hours_flags(policy: Policy, data: dict[str, Any], at: datetime) -> tuple[str, ...]:
    """The flags of the off-hours rules the ticket falls under at `at` (the time-dependent
    terms, decided per ticket)."""
    off_hours = policy.intake.off_hours
    if not off_hours:
        return ()
    priority = data.get("priority")
    return tuple(
        off.flag
        for off in off_hours
        if priority in off.priorities and not policy.calendar(off.calendar).is_open(at)
    )


def _entitlement_rule(policy: Policy, data: dict[str, Any]) -> EntitlementRule | None:
    """The entitlement rule of a ticket opened without a valid agreement, plan or order
    (the first matching its priority); None for an entitled ticket or when none matches."""
    intake = policy.intake
    entitled = bool(data.get("entitled", True)) and (
        plan_name(data.get("plan")) not in intake.plans_without_support
    )
    if entitled:
        return None
    priority = data.get("priority")
    for rule in intake.entitlement:
        if rule.priorities is None or priority in rule.priorities:
            return rule
    return None


def _after_cutoff(policy: Policy, data: dict[str, Any], at: datetime) -> datetime | None:
    """When the clocks start for a ticket opened after the cut-off (the next business day's
    opening), or None when the cut-off does not apply; at the cut-off exactly is not after."""
    cutoff = policy.intake.cutoff
    if cutoff is None or data.get("priority") not in cutoff.priorities:
        return None
    calendar = policy.calendar(cutoff.calendar)
    local = at.astimezone(calendar.zone).time()
    if (local.hour * 60 + local.minute, local.second, local.microsecond) <= (cutoff.minute, 0, 0):
        return None
    return calendar.next_business_day_opening(at)
