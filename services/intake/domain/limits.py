"""How long an account's SLA targets and escalation delays may be."""

from __future__ import annotations

from shared.policy import EscalationSpec

MAX_HOURS = 8_760.0
"""A year: the longest SLA target or escalation delay an account may be given, in hours."""


def check_escalation_hours(spec: EscalationSpec) -> None:
    """ValueError naming the level whose delay is not a finite number of hours up to a year
    (the policy model takes any number >= 0; an account's override comes from an admin)."""
    matrices = [("escalation.levels", spec.levels)] + [
        (f"escalation.rules[{index}].levels", rule.levels) for index, rule in enumerate(spec.rules)
    ]
    for where, levels in matrices:
        for index, level in enumerate(levels):
            if not 0 <= level.after_hours <= MAX_HOURS:
                raise ValueError(
                    f"{where}[{index}].after_hours: {level.after_hours} is not between 0 and "
                    f"{MAX_HOURS:g} hours"
                )
