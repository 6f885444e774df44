"""Intake-time rules: does the policy accept this ticket, and when do its clocks start?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.policy.model import Policy, plan_name


@dataclass(frozen=True, slots=True)
class Acceptance:
    accepted: bool
    rejection: str | None
    flags: tuple[str, ...]
    clock_start: datetime
    no_target_for: frozenset[str]


def _reject(message: str, at: datetime) -> Acceptance:
    return Acceptance(False, message, (), at, frozenset())


def decide_acceptance(policy: Policy, data: dict[str, Any], at: datetime) -> Acceptance:  # noqa: C901, PLR0912  (one rule of the policy's intake section a branch)
    """Apply the policy's intake rules to a `ticket.opened` payload at event time `at`."""
    priority = data.get("priority")
    if priority not in policy.priorities:
        return _reject(
            f"unknown priority {priority!r} for {policy.id} "
            f"(expected one of: {', '.join(policy.priorities)})",
            at,
        )
    plan = data.get("plan")
    if not policy.knows_plan(plan):
        return _reject(
            f"unknown plan {plan!r} for {policy.id} (expected one of: "
            f"{', '.join(policy.plans) or 'no plans'})",
            at,
        )
    if policy.plan_required and plan is None:
        return _reject(
            f"{policy.id} needs the account's plan ({', '.join(policy.plans)}) on the ticket", at
        )
    intake = policy.intake
    if intake.approved_contacts_only and not data.get("approved_contact", True):
        return _reject(
            "the contact is not on the account's approved contacts; only approved contacts "
            "may open tickets. Ask an account administrator to add them.",
            at,
        )
    channel = data.get("channel")
    for rule in intake.channels:
        if priority in rule.priorities and channel not in rule.channels:
            return _reject(rule.rejection, at)

    flags: list[str] = []
    no_target: set[str] = set()
    entitled = bool(data.get("entitled", True)) and plan_name(plan) not in (
        intake.plans_without_support
    )
    if not entitled:
        for ent in intake.entitlement:
            if ent.priorities is None or priority in ent.priorities:
                if ent.without == "reject":
                    return _reject(ent.message, at)
                if ent.flag:
                    flags.append(ent.flag)
                no_target.update(ent.no_target_for)
                break

    spam = intake.spam
    if spam is not None and data.get("spam") and channel in spam.channels:
        no_target.update(spam.no_target_for)
        flags.append("spam")

    for off in intake.off_hours:
        if priority in off.priorities and not policy.calendar(off.calendar).is_open(at):
            flags.append(off.flag)

    start = at
    cutoff = intake.cutoff
    if cutoff is not None and priority in cutoff.priorities:
        calendar = policy.calendar(cutoff.calendar)
        local = at.astimezone(calendar.zone).time()
        if (local.hour * 60 + local.minute, local.second, local.microsecond) > (
            cutoff.minute,
            0,
            0,
        ):
            start = calendar.next_business_day_opening(at)
            flags.append("after_cutoff")
    return Acceptance(True, None, tuple(flags), start, frozenset(no_target))
