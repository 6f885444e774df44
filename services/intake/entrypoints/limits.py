"""How big each string of a request may be (`IntakeSettings.max_*_chars`).

The body limit is enforced before the body is parsed (`services/common/http_limits.py`); the
string limits on the parsed body, by `check_text`, so that the 422 names the field and its
limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from services.common.problems import Problem

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
