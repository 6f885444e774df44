"""How big each string of a request may be (`IntakeSettings.max_*_chars`), and how long an
account's escalation delays.

The body limit is enforced before the body is parsed (`services/common/http_limits.py`); the
string limits on the parsed body, by `check_text`, so that the 422 names the field and its
limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from services.common.problems import Problem
from services.intake.entrypoints.schemas import MAX_HOURS
from shared.policy.model import EscalationSpec

SUBJECT_FIELDS = frozenset({"subject"})


@dataclass(frozen=True, slots=True)
class RequestLimits:
    max_subject_chars: int = 1_000
    max_text_chars: int = 65_536

    def check_text(self, body: Any) -> None:
        """Problem(422) for the first string in `body` (a request model) over its limit."""
        for name, value in vars(body).items():
            self._check(value, name)

    def _check(self, value: Any, path: str) -> None:
        if isinstance(value, str):
            field = path.rpartition(".")[2]
            limit = self.max_subject_chars if field in SUBJECT_FIELDS else self.max_text_chars
            if len(value) > limit:
                raise Problem(
                    422,
                    "Text too long",
                    f"{path} is {len(value)} characters long; the limit is {limit}",
                    field=path,
                    limit_chars=limit,
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                self._check(key, f"{path} (a key)")
                self._check(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._check(item, f"{path}[{index}]")
        elif isinstance(value, BaseModel):  # an event's typed data
            for name, item in vars(value).items():
                self._check(item, f"{path}.{name}")


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
