"""What rendering a notification template gives (`Rendered`), and the error a template that
cannot be used raises (`TemplateError`), whichever renderer produced it. Pure data."""

from __future__ import annotations

from dataclasses import dataclass


class TemplateError(ValueError):
    """A template that cannot be used; the message names the part, the line when known, and
    the problem. `reason` is a short code (syntax, undefined, security, time_budget,
    output_cap, memory, error, unavailable, unknown)."""

    def __init__(self, message: str, reason: str = "error", part: str = "template") -> None:
        super().__init__(message)
        self.reason = reason
        self.part = part


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str
