"""Every error the use cases raise, and the HTTP problem it is: one table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common.problems import Problem, problem_response
from services.intake.adapters.sla_client import SlaUnavailable
from services.intake.domain.errors import (
    AccountExists,
    NotYet,
    Refused,
    TicketNotFound,
    Unavailable,
    UnknownAccount,
    VersionConflict,
)
from services.intake.domain.event_checks import EventRefused
from services.intake.domain.lifecycle import TransitionRefused


def _refused(exc: Refused) -> Problem:
    extra: dict[str, Any] = {"field": exc.field} if exc.field else {}
    if exc.policy:
        extra["policy"] = exc.policy
    return Problem(422, exc.title, exc.reason, **extra)


def _conflict(exc: VersionConflict) -> Problem:
    return Problem(
        409,
        "Version conflict",
        str(exc),
        headers={"ETag": f'"{exc.current}"'},
        current_version=exc.current,
    )


PROBLEMS: dict[type[Exception], Callable[[Any], Problem]] = {
    Refused: _refused,
    TransitionRefused: lambda exc: Problem(422, "Transition refused", str(exc)),
    EventRefused: lambda exc: Problem(422, "Invalid event data", str(exc), field=exc.field),
    VersionConflict: _conflict,
    TicketNotFound: lambda exc: Problem(404, "Not found", "no such ticket"),
    UnknownAccount: lambda exc: Problem(404, "Not found", f"no account {exc}"),
    AccountExists: lambda exc: Problem(
        409, "Account exists", f"account {str(exc)!r} already exists"
    ),
    NotYet: lambda exc: Problem(404, exc.title, exc.reason),
    Unavailable: lambda exc: Problem(503, exc.title, exc.reason),
    SlaUnavailable: lambda exc: Problem(503, "SLA unavailable", str(exc)),
}
"""Domain error -> its problem+json (status, title, detail, members)."""


def to_problem(exc: BaseException) -> Problem | None:
    """The problem `exc` is, or None when it is not a refusal the API answers."""
    if isinstance(exc, Problem):
        return exc
    for kind, make in PROBLEMS.items():
        if isinstance(exc, kind):
            return make(exc)
    return None


def install(app: FastAPI) -> None:
    async def answer(request: Request, exc: Exception) -> JSONResponse:
        problem = to_problem(exc)
        if problem is None:  # cannot happen: only the table's kinds are registered
            raise exc
        return problem_response(problem, request)

    for kind in PROBLEMS:
        app.add_exception_handler(kind, answer)
