"""Creating an account (admin): its policy, plan, agreement dates, targets and matrix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.intake.domain.errors import Refused
from services.intake.domain.limits import check_escalation_hours
from services.intake.service_layer.ports import AccountDirectory
from shared.policy import Policy


@dataclass(frozen=True, slots=True)
class NewAccount:
    id: str
    name: str
    policy: str
    plan: str | None = None
    entitled_from: date | None = None
    entitled_until: date | None = None
    target_overrides: Mapping[str, float] = field(default_factory=dict)
    escalation: dict[str, Any] | None = None


async def create_account(
    accounts: AccountDirectory, policies: Mapping[str, Policy], new: NewAccount
) -> Policy:
    """Store the account and return its policy. Refused for a policy or plan that does not
    exist, a target override the policy would never use, an escalation matrix it cannot run;
    AccountExists when the id is taken."""
    policy = policies.get(new.policy)
    if policy is None:
        raise Refused(
            "Unknown policy", f"no policy {new.policy!r}; have {', '.join(sorted(policies))}"
        )
    if not policy.knows_plan(new.plan):
        raise Refused("Unknown plan", f"{policy.id} plans are {', '.join(policy.plans) or 'none'}")
    unusable = sorted(set(new.target_overrides) - set(policy.order_metrics()))
    if unusable:
        raise Refused(
            "Unusable target override",
            override_refusal(policy, unusable),
            f"target_overrides.{unusable[0]}",
        )
    try:
        check_escalation_hours(policy.escalation_with(new.escalation))
    except ValueError as exc:
        raise Refused("Invalid escalation matrix", str(exc)) from None
    await accounts.create(
        new.id,
        new.name,
        new.policy,
        new.plan,
        new.entitled_from,
        new.entitled_until,
        new.target_overrides,
        new.escalation,
    )
    return policy


def override_refusal(policy: Policy, unusable: list[str]) -> str:
    """Why `policy` would never use the account's targets for the `unusable` metrics."""
    reasons = [
        f"{policy.id} sets {metric} from its own targets"
        if metric in policy.metrics
        else f"{policy.id} has no {metric} clock"
        for metric in unusable
    ]
    usable = policy.order_metrics()
    then = (
        f"only {', '.join(usable)} can come from the account's order"
        if usable
        else f"{policy.id} takes no target from the account's order"
    )
    return f"{'; '.join(reasons)}, so the override would never be used; {then}"
