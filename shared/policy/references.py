"""Cross-references between a policy document's sections.

The schema checks each section on its own; here every priority, plan, calendar and metric that
a rule names is checked against the sections that define them. Each check raises `ValueError`
naming the field path of the first reference that goes nowhere (the escalation matrix names
all of its own at once, as an account's override is checked by the same function).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from shared.calendar import BusinessCalendar
from shared.policy.schema import (
    NO_PLAN,
    EscalationSpec,
    IntakeSpec,
    MetricName,
    MetricSpec,
    PolicyDocument,
    TargetRow,
)


@dataclass(frozen=True, slots=True)
class _Known:
    """The names a policy defines, which its rules may refer to."""

    priority_names: frozenset[str]
    plan_names: frozenset[str]
    calendars: Mapping[str, BusinessCalendar]

    def priorities(self, where: str, values: list[str] | None) -> None:
        for value in values or []:
            if value not in self.priority_names:
                raise ValueError(f"{where}: unknown priority {value!r}")

    def plans(self, where: str, values: list[str] | None) -> None:
        for value in values or []:
            if value not in self.plan_names:
                raise ValueError(f"{where}: unknown plan {value!r}")

    def calendar(self, where: str, name: str) -> None:
        if name not in self.calendars:
            raise ValueError(f"{where}: unknown calendar {name!r}")


def check_references(document: PolicyDocument, calendars: Mapping[str, BusinessCalendar]) -> None:
    """Every reference between the sections of `document`, in the document's order;
    `calendars` are the ones it defines, built, with the built-in 24x7."""
    known = _Known(
        priority_names=frozenset(document.priorities),
        plan_names=frozenset({*document.plans, NO_PLAN}),
        calendars=calendars,
    )
    if document.default_priority is not None:
        known.priorities("default_priority", [document.default_priority])
    for metric, spec in document.metrics.items():
        _check_metric(metric, spec, document.metrics, known)
    _check_intake(document.intake, known)
    _check_billing(document, known)
    check_escalation(document.escalation, document.priorities, document.plans)
    known.calendar("escalation.support_calendar", document.escalation.support_calendar)


def _check_billing(document: PolicyDocument, known: _Known) -> None:
    for index, charge in enumerate(document.charges):
        known.priorities(f"charges[{index}].priorities", charge.priorities)
        known.plans(f"charges[{index}].free_plans", charge.free_plans)
    if document.tam is not None:
        known.plans("tam.hours", list(document.tam.hours))


def check_escalation(
    spec: EscalationSpec, priorities: Collection[str], plans: Collection[str]
) -> None:
    """The priorities and plans an escalation matrix names (the policy's own, or an account's
    override of it): one `ValueError` listing every unknown one."""
    known_plans = {*plans, NO_PLAN}
    problems = [
        f"escalation.critical: unknown priority {value!r}"
        for value in spec.critical
        if value not in priorities
    ]
    for index, rule in enumerate(spec.rules):
        problems += [
            f"escalation.rules[{index}].priorities: unknown priority {value!r}"
            for value in rule.priorities or []
            if value not in priorities
        ]
        problems += [
            f"escalation.rules[{index}].plans: unknown plan {value!r}"
            for value in rule.plans or []
            if value not in known_plans
        ]
    if problems:
        raise ValueError("; ".join(problems))


def _check_metric(
    metric: MetricName,
    spec: MetricSpec,
    metrics: Mapping[MetricName, MetricSpec],
    known: _Known,
) -> None:
    if spec.same_targets_as is not None:
        if spec.targets:
            raise ValueError(f"metrics.{metric}: same_targets_as excludes targets")
        if spec.same_targets_as not in metrics:
            raise ValueError(f"metrics.{metric}: no metric {spec.same_targets_as!r}")
    for index, row in enumerate(spec.targets):
        _check_target_row(f"metrics.{metric}.targets[{index}]", row, known)


def _check_target_row(where: str, row: TargetRow, known: _Known) -> None:
    known.priorities(where, row.priorities)
    known.calendar(where, row.calendar)
    known.plans(where, row.plans)
    if row.support_days and known.calendars[row.calendar].support_day is None:
        raise ValueError(f"{where}: calendar {row.calendar!r} has no support_day_hours")


def _check_intake(intake: IntakeSpec, known: _Known) -> None:
    for index, channel_rule in enumerate(intake.channels):
        known.priorities(f"intake.channels[{index}]", channel_rule.priorities)
    if intake.cutoff is not None:
        known.priorities("intake.cutoff", intake.cutoff.priorities)
        known.calendar("intake.cutoff", intake.cutoff.calendar)
    for index, off in enumerate(intake.off_hours):
        known.priorities(f"intake.off_hours[{index}]", off.priorities)
        known.calendar(f"intake.off_hours[{index}]", off.calendar)
    for index, entitlement in enumerate(intake.entitlement):
        known.priorities(f"intake.entitlement[{index}]", entitlement.priorities)
