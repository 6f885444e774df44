"""The compiled policy: a valid policy document with the lookups the SLA core reads.

The loader builds one `Policy` per policy file (`shared.policy.loader.compile_policy`): the
calendars built, the target of every metric for every priority and plan looked up once. It is
frozen; a changed policy is a changed document, compiled again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar, cast

from shared.calendar import BusinessCalendar
from shared.calendar.table import duration_micros
from shared.policy.references import check_escalation
from shared.policy.schema import (
    NO_PLAN,
    Charge,
    EscalationSpec,
    IntakeSpec,
    MetricName,
    MetricSpec,
    PolicyDocument,
    SeverityChange,
    TargetRow,
)

T = TypeVar("T")
MEMO_LIMIT = 4096

TargetKey = tuple[str, str, str | None]
"""(metric, priority, plan) as the SLA core asks for a target."""


class Target:
    """A business-time duration measured in one calendar."""

    __slots__ = ("calendar", "duration", "micros")

    def __init__(self, duration: timedelta, calendar: BusinessCalendar) -> None:
        self.duration = duration
        self.calendar = calendar
        self.micros = duration_micros(duration)
        """The duration in integer microseconds, as the SLA core's clocks measure it."""

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Target)
            and other.duration == self.duration
            and other.calendar is self.calendar
        )

    def __hash__(self) -> int:
        return hash((self.duration, id(self.calendar)))

    def __repr__(self) -> str:
        return f"Target({self.duration}, {self.calendar.name})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Policy:
    """A provider's support policy, one version of it, ready for the SLA core.

    The document's sections the services read are fields of their own (slot reads: the core's
    hot path reads them for every event); the whole document, as validated, is `spec` (its
    prose, `document` and `notes`, is only there). Nothing can be set or replaced; the one
    mutable part is `memo`, a bounded cache of values derived from the rest. Equality is
    identity: one compiled policy per loaded file, each with its own memo.
    """

    spec: PolicyDocument
    ref: str
    """`id@version`, the reference a ticket pins when it opens."""
    id: str
    version: int
    name: str
    priorities: tuple[str, ...]
    """Most severe first."""
    default_priority: str | None
    plans: tuple[str, ...]
    plan_required: bool
    warning_fraction: float
    severity_change: SeverityChange
    metrics: Mapping[MetricName, MetricSpec]
    intake: IntakeSpec
    charges: tuple[Charge, ...]
    escalation: EscalationSpec
    calendars: Mapping[str, BusinessCalendar]
    """Every calendar by name, built, with the built-in `24x7`."""
    targets: Mapping[TargetKey, Target | None]
    """The target without account overrides of every metric, priority and plan the policy
    knows (plans also as None and NO_PLAN): the SLA core's hot-path lookup."""
    memo: dict[Hashable, Any] = field(default_factory=dict)
    """Tables readers derive from the policy, through `memoised`."""

    def __repr__(self) -> str:
        return f"Policy({self.ref})"

    def calendar(self, name: str) -> BusinessCalendar:
        return self.calendars[name]

    def memoised(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, once per `key` for this policy: for immutable tables that readers
        derive from the policy (a policy never changes once loaded). Bounded: the memo starts
        afresh past `MEMO_LIMIT` keys (account overrides make keys open-ended)."""
        memo = self.memo
        try:
            return cast(T, memo[key])
        except KeyError:
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            value = memo[key] = compute()
            return value

    def knows_plan(self, plan: str | None) -> bool:
        """Whether `plan` is one of this policy's plans, or none at all."""
        return plan is None or plan in self.plans or plan == NO_PLAN

    def order_metrics(self) -> list[str]:
        """The metrics whose target may come from the account's order (`target_overrides`):
        those with a `from_account_order` row, directly or through `same_targets_as`."""
        return [
            str(metric)
            for metric in self.metrics
            if any(row.from_account_order for row in target_rows(self.metrics, metric))
        ]

    def escalation_with(self, override: dict[str, Any] | None) -> EscalationSpec:
        """The escalation matrix with an account's override (`levels`, `critical`) on top;
        raises `ValueError` (pydantic's, naming the field) when the override is invalid."""
        if not override:
            return self.escalation
        unknown_keys = set(override) - {"levels", "critical", "rules"}
        if unknown_keys:
            raise ValueError(
                "escalation: only levels, critical and rules can be overridden, not "
                f"{sorted(unknown_keys)[0]!r}"
            )
        spec = EscalationSpec.model_validate({**self.escalation.model_dump(), **override})
        check_escalation(spec, self.priorities, self.plans)
        return spec

    def target(
        self,
        metric: str,
        priority: str,
        plan: str | None,
        overrides: dict[str, float] | None = None,
    ) -> Target | None:
        """The target of `metric` for a ticket of `priority`/`plan`, or None for no target."""
        if not overrides:
            try:
                return self.targets[(metric, priority, plan)]
            except KeyError:
                overrides = {}
        return find_target(self.metrics, self.calendars, (metric, priority, plan), overrides)

    def downgraded(self, priority: str) -> str | None:
        """One level less severe, never below the least severe priority."""
        index = self.priorities.index(priority)
        return self.priorities[index + 1] if index + 1 < len(self.priorities) else None

    def summary(self) -> dict[str, Any]:
        """The document as validated, as JSON data."""
        return self.spec.model_dump(mode="json", exclude_none=True)


def target_rows(metrics: Mapping[MetricName, MetricSpec], metric: str) -> list[TargetRow]:
    """The target table of `metric`: its own, or the one it reuses (`same_targets_as`)."""
    spec = metrics.get(cast(MetricName, metric))
    if spec is None:
        return []
    if spec.same_targets_as is not None:
        spec = metrics[spec.same_targets_as]
    return spec.targets


def find_target(
    metrics: Mapping[MetricName, MetricSpec],
    calendars: Mapping[str, BusinessCalendar],
    key: TargetKey,
    overrides: Mapping[str, float],
) -> Target | None:
    """The first matching row's target for `key`, or None: no row, or a row without one."""
    metric, priority, plan = key
    for row in target_rows(metrics, metric):
        if row.matches(priority, plan):
            return _target_of(metric, row, calendars[row.calendar], overrides)
    return None


def _target_of(
    metric: str, row: TargetRow, calendar: BusinessCalendar, overrides: Mapping[str, float]
) -> Target | None:
    if row.from_account_order:
        hours = overrides.get(metric)
        return Target(timedelta(hours=hours), calendar) if hours else None
    if row.minutes is not None:
        return Target(timedelta(minutes=row.minutes), calendar)
    if row.hours is not None:
        return Target(timedelta(hours=row.hours), calendar)
    if row.support_days is not None and calendar.support_day is not None:
        return Target(calendar.support_day * row.support_days, calendar)
    return None
