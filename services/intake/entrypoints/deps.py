"""What the API needs, passed in by bootstrap (so tests can wire real or fake parts)."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from services.common.api_keys import ApiKey, bearer
from services.common.health import TaskRegistry
from services.common.http_limits import check_rate
from services.common.problems import Problem
from services.intake.adapters.accounts import AccountStore
from services.intake.adapters.event_store import EventStore
from services.intake.adapters.idempotency import IdempotencyStore
from services.intake.adapters.outbox_relay import OutboxRelay
from services.intake.adapters.sla_client import SlaClient
from services.intake.service_layer.ports import Ports
from shared.policy import Policy


@dataclass
class IntakeDeps:
    store: EventStore
    accounts: AccountStore
    idempotency: IdempotencyStore
    policies: dict[str, Policy]
    now: Callable[[], datetime]
    random_digits: Callable[[int], str]
    new_ticket_id: Callable[[], uuid.UUID]
    admin_token: str
    readiness: Callable[[], Awaitable[dict[str, bool]]]
    relay: OutboxRelay | None = None
    sla: SlaClient | None = None
    tasks: TaskRegistry | None = None
    """The background tasks, reported by /readyz and /metrics."""

    def ports(self) -> Ports:
        """What the ticket use cases take (`service_layer/ports.py`)."""
        return Ports(
            store=self.store,
            accounts=self.accounts,
            policies=self.policies,
            now=self.now,
            random_digits=self.random_digits,
            new_ticket_id=self.new_ticket_id,
        )


async def get_deps(request: Request) -> IntakeDeps:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool (a thread
    hop per request, seen in the request profile)."""
    deps: IntakeDeps = request.app.state.deps
    return deps


Deps = Annotated[IntakeDeps, Depends(get_deps)]


async def require_key(request: Request) -> ApiKey:
    """The caller's API key, from `Authorization: Bearer ...` or `X-Api-Key`.

    Read from the request rather than declared as header parameters: FastAPI solves every
    declared parameter and sub-dependency on every request, and this runs on all of them.
    The OpenAPI document declares both headers as security schemes (`SECURITY_SCHEMES`).
    A key over its rate limit is a 429 with Retry-After (`check_rate`)."""
    deps: IntakeDeps = request.app.state.deps
    headers = request.headers
    presented = bearer(headers.get("authorization"), headers.get("x-api-key"))
    if not presented:
        raise Problem(401, "Unauthorized", "send the API key as `Authorization: Bearer tf_...`")
    key = await deps.accounts.authenticate(presented)
    if key is None:
        raise Problem(401, "Unauthorized", "unknown or revoked API key")
    check_rate(request, key.id)
    return key


async def require_admin(request: Request) -> None:
    deps: IntakeDeps = request.app.state.deps
    presented = bearer(request.headers.get("authorization"), None) or ""
    if not hmac.compare_digest(presented.encode(), deps.admin_token.encode()):
        raise Problem(401, "Unauthorized", "admin endpoints need the admin token as a bearer")


Key = Annotated[ApiKey, Depends(require_key)]
Admin = Annotated[None, Depends(require_admin)]
