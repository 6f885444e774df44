"""`/v1/admin/accounts`: accounts and their contacts (admin token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from services.intake.entrypoints import schemas
from services.intake.entrypoints.deps import Admin, Deps
from services.intake.entrypoints.limits import RequestLimits
from services.intake.service_layer import accounts


def accounts_router(limits: RequestLimits) -> APIRouter:
    router = APIRouter(prefix="/v1/admin/accounts", tags=["admin"])

    @router.post("", status_code=201)
    async def create_account(
        body: schemas.CreateAccountBody, deps: Deps, _admin: Admin
    ) -> dict[str, Any]:
        limits.check_text(body)
        new = accounts.NewAccount(
            id=body.id,
            name=body.name,
            policy=body.policy,
            plan=body.plan,
            entitled_from=body.entitled_from,
            entitled_until=body.entitled_until,
            target_overrides=body.target_overrides,
            escalation=body.escalation,
        )
        policy = await accounts.create_account(deps.accounts, deps.policies, new)
        return {"id": body.id, "policy": policy.ref}

    @router.post("/{account_id}/contacts", status_code=201)
    async def add_contact(
        account_id: Annotated[str, Path(pattern=schemas.NO_NUL)],
        body: schemas.ContactBody,
        deps: Deps,
        _admin: Admin,
    ) -> dict[str, Any]:
        await deps.accounts.add_contact(account_id, body.email, body.role, body.name, body.level)
        return {"account": account_id, "email": body.email.lower(), "role": body.role}

    return router
