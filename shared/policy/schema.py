"""The policy document: pydantic models of `policies/*.yaml`, validated section by section.

Everything a provider document states is data here: calendars, holidays, per-priority and
per-plan targets, channel rules, cut-offs, spam handling, entitlement, charges. Each rule can
carry `source`: the document sentence it implements. What one section says about another (a
target row naming a calendar, a rule naming a priority) is checked in `references`; the
loader compiles a valid document into the `Policy` the SLA core reads.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.calendar import (
    BusinessCalendar,
    EasterRelative,
    FixedDate,
    HolidayRule,
    NthWeekday,
    RelativeToHoliday,
    WeeklyHours,
    parse_zone,
)
from shared.events.types import Cause, Channel, Criticality, Fault, WorkRate

MetricName = Literal[
    "first_response", "resolution", "rfo", "closure_confirmation", "customer_response"
]
METRICS: tuple[MetricName, ...] = get_args(MetricName)
"""The SLA metrics, in the order reports list them: defined once, by `MetricName`."""
NO_PLAN = "none"
"""How a policy's tables name the plan of an account that has none."""


def plan_name(plan: str | None) -> str:
    """`plan` as the policy's tables name it: NO_PLAN for an account without one."""
    return plan or NO_PLAN


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HolidaySpec(Strict):
    """One holiday rule; exactly one way of dating it."""

    name: str
    month: int | None = Field(default=None, ge=1, le=12)
    day: int | None = Field(default=None, ge=1, le=31)
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = None
    nth: int | None = Field(default=None, description="1..5, or -1 for the last")
    easter_offset: int | None = None
    relative_to: str | None = None
    offset_days: int | None = None

    def rule(self) -> HolidayRule:
        if self.easter_offset is not None:
            return EasterRelative(self.name, self.easter_offset)
        if self.relative_to is not None:
            if self.offset_days is None:
                raise ValueError(f"{self.name}: relative_to needs offset_days")
            return RelativeToHoliday(self.name, self.relative_to, self.offset_days)
        if self.month is not None and self.weekday is not None and self.nth is not None:
            if self.nth == 0 or not -1 <= self.nth <= 5:
                raise ValueError(f"{self.name}: nth must be 1..5 or -1")
            return NthWeekday(self.name, self.month, WEEKDAYS.index(self.weekday), self.nth)
        if self.month is not None and self.day is not None:
            return FixedDate(self.name, self.month, self.day)
        raise ValueError(
            f"{self.name}: give month+day, month+weekday+nth, easter_offset, "
            "or relative_to+offset_days"
        )


class CalendarSpec(Strict):
    timezone: str = Field(description="IANA name (America/New_York) or offset (GMT+2)")
    hours: dict[str, list[str]] = Field(
        description="Weekday (mon..sun) or range (mon-fri) -> ['HH:MM-HH:MM', ...]; "
        "24:00 closes at midnight"
    )
    holidays: list[HolidaySpec] = Field(default_factory=list)
    support_day_hours: float | None = Field(
        default=None, gt=0, description="Business hours in one 'support day'"
    )
    source: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        parse_zone(value)
        return value

    def build(self, name: str) -> BusinessCalendar:
        days: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
        for key, spans in self.hours.items():
            for index in _weekday_indexes(key):
                days[index].extend(_span(span) for span in spans)
        weekly = WeeklyHours(tuple(tuple(sorted(day)) for day in days))  # type: ignore[arg-type]
        rules = tuple(holiday.rule() for holiday in self.holidays)
        support_day = timedelta(hours=self.support_day_hours) if self.support_day_hours else None
        return BusinessCalendar(
            name=name,
            zone=parse_zone(self.timezone),
            weekly=weekly,
            holidays=rules,
            support_day=support_day,
        )


def _weekday_indexes(key: str) -> list[int]:
    if "-" in key:
        first, last = key.split("-", 1)
        if first not in WEEKDAYS or last not in WEEKDAYS:
            raise ValueError(f"bad weekday range {key!r} (use e.g. mon-fri)")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last)
        if end < start:
            raise ValueError(f"weekday range {key!r} runs backwards")
        return list(range(start, end + 1))
    if key not in WEEKDAYS:
        raise ValueError(f"bad weekday {key!r} (use mon..sun)")
    return [WEEKDAYS.index(key)]


def _span(text: str) -> tuple[int, int]:
    match = _HOURS.match(text.strip())
    if not match:
        raise ValueError(f"bad hours {text!r} (use HH:MM-HH:MM)")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or end <= start:
        raise ValueError(f"bad hours {text!r}")
    return start, end


class TargetRow(Strict):
    """One row of a metric's target table; the first row matching priority and plan wins.

    A row with no duration means "no target" for what it matches.
    """

    priorities: list[str] | None = None
    plans: list[str] | None = None
    minutes: float | None = Field(default=None, gt=0)
    hours: float | None = Field(default=None, gt=0)
    support_days: float | None = Field(default=None, gt=0)
    calendar: str = "24x7"
    from_account_order: bool = Field(
        default=False, description="Target comes from the account's order (target_overrides)"
    )
    source: str | None = None

    @model_validator(mode="after")
    def _one_duration(self) -> TargetRow:
        given = [v for v in (self.minutes, self.hours, self.support_days) if v is not None]
        if len(given) > 1:
            raise ValueError("give one of minutes, hours, support_days")
        if given and self.from_account_order:
            raise ValueError("from_account_order rows take their duration from the account")
        return self

    def matches(self, priority: str, plan: str | None) -> bool:
        if self.priorities is not None and priority not in self.priorities:
            return False
        return self.plans is None or plan_name(plan) in self.plans


class MetricSpec(Strict):
    targets: list[TargetRow] = Field(default_factory=list)
    same_targets_as: MetricName | None = Field(
        default=None, description="Reuse another metric's target table"
    )
    pauses_on_customer_side: bool = False
    stops_on_workaround: bool = Field(
        default=False, description="A work-around meets the metric as a resolution does"
    )
    warn: bool = Field(default=True, description="Emit a warning before the deadline")
    source: str | None = None


class ChannelRule(Strict):
    priorities: list[str]
    channels: list[Channel]
    rejection: str
    source: str | None = None


class CutoffRule(Strict):
    """Tickets opened after `after` (local time of `calendar`) start next business day; one
    opened at `after` exactly is not after it (VoIPster: "unless opened after 08:00pm")."""

    after: str
    calendar: str
    priorities: list[str]
    source: str | None = None

    @field_validator("after")
    @classmethod
    def _time(cls, value: str) -> str:
        _span(f"{value}-23:59" if value != "23:59" else "23:58-23:59")
        return value

    @property
    def minute(self) -> int:
        hours, minutes = self.after.split(":")
        return int(hours) * 60 + int(minutes)


class SpamRule(Strict):
    channels: list[Channel]
    no_target_for: list[MetricName]
    source: str | None = None


class EntitlementRule(Strict):
    """What happens to a ticket opened without a valid agreement / order / plan."""

    priorities: list[str] | None = None
    without: Literal["accept", "reject"]
    flag: str | None = None
    no_target_for: list[MetricName] = Field(
        default_factory=list,
        description="Metrics that have no target without entitlement (e.g. paid support)",
    )
    message: str
    source: str | None = None


class OffHoursRule(Strict):
    """Flag tickets of `priorities` opened outside `calendar`'s hours (e.g. billable review)."""

    priorities: list[str]
    calendar: str
    flag: str
    source: str | None = None


class IntakeSpec(Strict):
    approved_contacts_only: bool = True
    contacts_source: str | None = None
    channels: list[ChannelRule] = Field(default_factory=list)
    cutoff: CutoffRule | None = None
    spam: SpamRule | None = None
    entitlement: list[EntitlementRule] = Field(default_factory=list)
    plans_without_support: list[str] = Field(
        default_factory=list, description="Plans that count as no entitlement (e.g. free)"
    )
    off_hours: list[OffHoursRule] = Field(default_factory=list)


class Price(Strict):
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")


class ChargeConditions(Strict):
    """Determinations the provider records on a ticket (`ticket.determination_recorded`)."""

    criticality: list[Criticality] = Field(default_factory=list)
    fault: list[Fault] = Field(default_factory=list)
    cause: list[Cause] = Field(default_factory=list)

    def pairs(self) -> list[tuple[str, list[str]]]:
        named: dict[str, list[str]] = {
            "criticality": [str(v) for v in self.criticality],
            "fault": [str(v) for v in self.fault],
            "cause": [str(v) for v in self.cause],
        }
        return [(kind, values) for kind, values in named.items() if values]


class Charge(Strict):
    """One charge rule: which tickets, what must be determined first, what waives it, and
    how it is priced (flat per incident, logged hours at a rate, or approved fee quotes)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    basis: Literal["incident", "hours", "quote"]
    price: Price | None = Field(
        default=None, description="Flat amount (incident) or hourly rate (hours)"
    )
    rate_card: str | None = Field(
        default=None, description="The account's rate it bills at when the document has none"
    )
    priorities: list[str] | None = Field(default=None, description="At opening; none: all")
    flags: list[str] = Field(default_factory=list, description="Intake flags at opening")
    unplanned_only: bool = False
    free_plans: list[str] = Field(default_factory=list)
    requires: ChargeConditions = Field(default_factory=ChargeConditions)
    waived_when: ChargeConditions = Field(default_factory=ChargeConditions)
    work: list[WorkRate] | None = Field(default=None, description="Logged rates it bills")
    window: Literal["any", "ess", "outside_ess"] = "any"
    minimum_hours: float = Field(default=0, ge=0)
    increment_minutes: int = Field(default=15, ge=1, le=60)
    prepaid: bool = False
    applies_when: str
    source: str | None = None

    @model_validator(mode="after")
    def _priced(self) -> Charge:
        if self.basis != "quote" and (self.price is None) == (self.rate_card is None):
            raise ValueError(f"charge {self.name}: give one of price or rate_card")
        if self.basis != "hours" and (self.work or self.window != "any" or self.prepaid):
            raise ValueError(f"charge {self.name}: work, window and prepaid are for hours")
        for kind, values in self.requires.pairs():
            if len(values) != 1:
                raise ValueError(f"charge {self.name}: requires.{kind} names one value")
        return self


class TamSpec(Strict):
    """Technical Account Manager hours per calendar month, by plan."""

    hours: dict[str, int] = Field(min_length=1)
    timezone: str = "UTC"
    source: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        parse_zone(value)
        return value


class EscalationLevel(Strict):
    level: int = Field(ge=1, le=9)
    after_hours: float = Field(
        ge=0,
        description="Hours after the escalation was raised (business hours of the "
        "support calendar; wall-clock hours for critical priorities)",
    )


def _default_levels() -> list[EscalationLevel]:
    return [
        EscalationLevel(level=1, after_hours=0),
        EscalationLevel(level=2, after_hours=2),
        EscalationLevel(level=3, after_hours=4),
    ]


def _default_metrics() -> list[MetricName]:
    return ["first_response", "resolution"]


def _check_levels(levels: list[EscalationLevel], where: str) -> None:
    numbers = [level.level for level in levels]
    hours = [level.after_hours for level in levels]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"{where}: levels must be numbered 1, 2, ... in order")
    if hours != sorted(hours) or hours[0] != 0:
        raise ValueError(f"{where}: level 1 is at 0 hours, later levels not earlier")


class EscalationRule(Strict):
    """Levels for the escalations that match (every given filter); the first match wins."""

    priorities: list[str] | None = None
    plans: list[str] | None = None
    metrics: list[MetricName | Literal["customer_request"]] | None = None
    levels: list[EscalationLevel] = Field(min_length=1)

    def matches(self, priority: str, plan: str | None, metric: str) -> bool:
        return (
            (self.priorities is None or priority in self.priorities)
            and (self.plans is None or plan_name(plan) in self.plans)
            and (self.metrics is None or metric in self.metrics)
        )


class EscalationSpec(Strict):
    """The default escalation matrix of the policy; an account may override `levels`,
    `critical` and `rules` (levels by priority, plan and metric)."""

    support_calendar: str = Field(
        default="24x7", description="The customer's support hours: quiet hours are outside it"
    )
    critical: list[str] = Field(
        default_factory=list, description="Priorities that page at any hour (no quiet hours)"
    )
    metrics: list[MetricName] = Field(
        default_factory=_default_metrics,
        description="Metrics whose warning/breach escalates",
    )
    levels: list[EscalationLevel] = Field(default_factory=_default_levels, min_length=1)
    rules: list[EscalationRule] = Field(
        default_factory=list,
        description="Levels by priority, plan and metric; the first matching rule wins, "
        "`levels` applies when none matches",
    )
    source: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> EscalationSpec:
        _check_levels(self.levels, "escalation.levels")
        for index, rule in enumerate(self.rules):
            _check_levels(rule.levels, f"escalation.rules[{index}].levels")
        return self

    def levels_for(self, priority: str, plan: str | None, metric: str) -> list[EscalationLevel]:
        for rule in self.rules:
            if rule.matches(priority, plan, metric):
                return rule.levels
        return self.levels


SeverityChange = Literal["recompute_from_open", "restart_from_change"]


class PolicyDocument(Strict):
    """A provider's support policy, one version of it, as its YAML file states it."""

    id: str
    version: int = Field(ge=1)
    name: str
    document: str
    priorities: list[str] = Field(min_length=1, description="Most severe first")
    default_priority: str | None = None
    plans: list[str] = Field(default_factory=list)
    plan_required: bool = False
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)
    warning_fraction: float = Field(default=0.75, gt=0, lt=1)
    severity_change: SeverityChange = "recompute_from_open"
    metrics: dict[MetricName, MetricSpec] = Field(default_factory=dict)
    intake: IntakeSpec = Field(default_factory=IntakeSpec)
    charges: list[Charge] = Field(default_factory=list)
    tam: TamSpec | None = None
    escalation: EscalationSpec = Field(default_factory=EscalationSpec)
    notes: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"policy id {value!r} must be a lowercase slug")
        return value
