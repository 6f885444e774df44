"""The billing HTTP API: an account's charges, monthly statement (JSON or CSV), prepaid time
and TAM hours, each scoped to the API key's accounts; the admin's account terms and prepaid
top-ups; health and metrics."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.billing.domain.accounts import LedgerCharge, Prepaid
from services.billing.domain.rules import AccountTerms, Money
from services.billing.domain.statement import to_csv
from services.billing.service_layer.reads import BillingReads
from services.common.api_keys import ApiKey, ApiKeyVerifier
from services.common.health import TaskRegistry
from services.common.http_settings import HttpSettings
from services.common.ops import OUTBOX_PENDING, ops_router
from services.common.problems import Problem
from services.common.service_app import deps_getter, service_app
from services.common.web_auth import Admin, Key

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
AccountId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Month = Annotated[str | None, Query(pattern=MONTH, description="YYYY-MM (UTC); default: now")]


class ChargeView(BaseModel):
    charge_id: uuid.UUID
    ticket_id: str
    policy: str
    month: str
    rule: str
    basis: Literal["incident", "hours", "quote"]
    amount: Decimal | None = Field(description="Null: no rate on the account's rate card yet")
    currency: str | None
    worked_minutes: int
    billed_minutes: int
    prepaid_minutes: int
    rate: Decimal | None
    source: str = Field(description="The document's sentence the rule implements")
    assessed_at: datetime
    voided_at: datetime | None
    status: Literal["assessed", "voided"]


class StatementView(BaseModel):
    account: str
    month: str
    charges: list[ChargeView]
    totals: dict[str, Decimal] = Field(description="Per currency")
    unpriced: int = Field(description="Charges without a rate on the account's rate card")


class PrepaidView(BaseModel):
    account: str
    balance_minutes: int
    low_at_minutes: int
    status: Literal["ok", "low", "exhausted"]


class TamView(BaseModel):
    account: str
    month: str
    used_minutes: int
    budget_hours: int | None = Field(description="Null: no TAM work counted this month")
    left_minutes: int | None


class RateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2, examples=["250.00"])
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["USD"])


class TermsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rates: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")], RateBody] = Field(
        default_factory=dict,
        description="The account's rate card: voice1's `emergency` and `standard` hourly rates",
        max_length=32,
    )
    prepaid_low_minutes: int = Field(default=60, ge=0, le=1_000_000)


class TopUpBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(gt=0, le=10_000_000, examples=[600])


class BillingApiDeps:
    def __init__(
        self,
        reads: BillingReads,
        keys: ApiKeyVerifier,
        admin_token: str,
        readiness: Callable[[], Awaitable[dict[str, bool]]],
        tasks: TaskRegistry | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.reads = reads
        self.keys = keys
        self.admin_token = admin_token
        self.readiness = readiness
        self.tasks = tasks
        self.now = now

    async def refresh_metrics(self) -> None:
        """Before each /metrics scrape: the outbox backlog, as the other services report it."""
        OUTBOX_PENDING.labels("billing").set(await self.reads.outbox_pending())


get_deps = deps_getter(BillingApiDeps)
Deps = Annotated[BillingApiDeps, Depends(get_deps)]


def _view(entry: LedgerCharge) -> ChargeView:
    charge = entry.charge
    return ChargeView(
        charge_id=entry.charge_id,
        ticket_id=entry.ticket_id,
        policy=entry.policy,
        month=entry.month,
        rule=charge.rule,
        basis=charge.basis.value,
        amount=charge.amount,
        currency=charge.currency,
        worked_minutes=charge.worked_minutes,
        billed_minutes=charge.billed_minutes,
        prepaid_minutes=charge.prepaid_minutes,
        rate=charge.rate,
        source=charge.source,
        assessed_at=entry.assessed_at,
        voided_at=entry.voided_at,
        status="voided" if entry.voided_at else "assessed",
    )


def _owned(key: ApiKey, account: str) -> None:
    if account not in key.accounts:
        raise Problem(404, "Unknown account", f"no account {account!r} for this API key")


def _month(deps: BillingApiDeps, month: str | None) -> str:
    if month is not None:
        return month
    now = deps.now().astimezone(UTC)
    return f"{now.year:04d}-{now.month:02d}"


def _prepaid_view(account: str, found: Prepaid) -> PrepaidView:
    status: Literal["ok", "low", "exhausted"] = "ok"
    if found.balance_minutes <= 0:
        status = "exhausted"
    elif found.balance_minutes <= found.low_at_minutes:
        status = "low"
    return PrepaidView(
        account=account,
        balance_minutes=found.balance_minutes,
        low_at_minutes=found.low_at_minutes,
        status=status,
    )


routes = APIRouter()
"""An account's charges, statement, prepaid time and TAM hours."""


@routes.get("/v1/accounts/{account}/charges", response_model=list[ChargeView])
async def list_charges(
    account: AccountId, deps: Deps, key: Key, month: Month = None
) -> list[ChargeView]:
    """Every charge of the month, voided ones too (a determination changed), oldest first."""
    _owned(key, account)
    return [_view(entry) for entry in await deps.reads.charges(account, _month(deps, month))]


@routes.get(
    "/v1/accounts/{account}/statement",
    response_model=StatementView,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def get_statement(
    account: AccountId,
    deps: Deps,
    key: Key,
    month: Month = None,
    format: Annotated[Literal["json", "csv"], Query(description="csv: one row a charge")] = "json",
) -> Any:
    """The month's charges in force, totals per currency and what is still to price."""
    _owned(key, account)
    found = await deps.reads.statement(account, _month(deps, month))
    if format == "csv":
        name = f"statement-{account}-{found.month}.csv"
        return Response(
            to_csv(found),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return StatementView(
        account=account,
        month=found.month,
        charges=[_view(entry) for entry in found.lines],
        totals=found.totals,
        unpriced=found.unpriced,
    )


@routes.get("/v1/accounts/{account}/prepaid", response_model=PrepaidView)
async def get_prepaid(account: AccountId, deps: Deps, key: Key) -> PrepaidView:
    """The account's prepaid support time left; 404 when it has none."""
    _owned(key, account)
    found = await deps.reads.prepaid(account)
    if found is None:
        raise Problem(404, "No prepaid time", f"account {account!r} has no prepaid time")
    return _prepaid_view(account, found)


@routes.get("/v1/accounts/{account}/tam", response_model=TamView)
async def get_tam(account: AccountId, deps: Deps, key: Key, month: Month = None) -> TamView:
    """TAM hours used and left in the month (voximplant's plans)."""
    _owned(key, account)
    which = _month(deps, month)
    found = await deps.reads.tam(account, which)
    if found is None:
        return TamView(
            account=account, month=which, used_minutes=0, budget_hours=None, left_minutes=None
        )
    return TamView(
        account=account,
        month=which,
        used_minutes=found.used_minutes,
        budget_hours=found.budget_hours,
        left_minutes=found.left_minutes,
    )


admin = APIRouter(prefix="/v1/admin")
"""Account terms: the rate card and prepaid time (the admin token)."""


@admin.put("/accounts/{account}/terms", status_code=204)
async def put_terms(account: AccountId, body: TermsBody, deps: Deps, _: Admin) -> Response:
    """Replace the account's rate card and the prepaid balance's low mark (prepaid time is
    added by top-ups)."""
    terms = AccountTerms(
        {name: Money(rate.amount, rate.currency) for name, rate in body.rates.items()}
    )
    await deps.reads.set_terms(account, terms, body.prepaid_low_minutes)
    return Response(status_code=204)


@admin.post("/accounts/{account}/prepaid", response_model=PrepaidView)
async def top_up(account: AccountId, body: TopUpBody, deps: Deps, _: Admin) -> PrepaidView:
    """Add prepaid minutes (the account's prepaid time starts with its first top-up)."""
    return _prepaid_view(account, await deps.reads.top_up(account, body.minutes))


def create_app(lifespan: Any = None, http: HttpSettings | None = None) -> FastAPI:
    app = service_app(
        "billing",
        "Charges by each provider document's rules, monthly statements, prepaid time and TAM "
        "hours.",
        lifespan=lifespan,
        http=http,
        admin_prefix="/v1/admin",
    )
    app.include_router(routes)
    app.include_router(admin)
    app.include_router(ops_router(app))
    return app
