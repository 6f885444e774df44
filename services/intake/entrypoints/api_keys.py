"""`/v1/admin/api-keys`: issue, list, rotate and revoke integrators' API keys (admin token).

A revoked key stops working at once on the replica that revoked it, and on every other
replica and service within their key cache time (`TICKETFLOW_API_KEY_CACHE_SECONDS`, default
10 s; each service's own prefix for the others). A rotation issues a new key for the same
accounts and revokes the old one after an optional grace period."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from services.common.problems import Problem
from services.intake.adapters.accounts import IssuedKey, KeyInfo, KeyRevoked, UnknownKey
from services.intake.entrypoints import schemas
from services.intake.entrypoints.deps import Admin, Deps
from services.intake.entrypoints.limits import RequestLimits

KEY_ID = r"^[0-9A-Za-z-]{1,64}$"
REVOCATION_BOUND = (
    "It stops working at once on the intake replica that answers this request, and within "
    "the key cache time (`TICKETFLOW_API_KEY_CACHE_SECONDS`, default 10 s; "
    "`TICKETFLOW_ESCALATION_API_KEY_CACHE_SECONDS`, ... for the other services) everywhere "
    "else."
)

KeyId = Annotated[str, Path(pattern=KEY_ID, description="The key's id (`tf_<id>_...`)")]


def _issued(issued: IssuedKey) -> schemas.ApiKeyIssued:
    return schemas.ApiKeyIssued(
        id=issued.id,
        key=issued.secret,
        accounts=list(issued.accounts),
        prefix=issued.prefix,
        created_at=issued.created_at,
    )


def _view(info: KeyInfo) -> schemas.ApiKeyView:
    return schemas.ApiKeyView(
        id=info.id,
        prefix=info.prefix,
        accounts=list(info.accounts),
        label=info.label,
        created_at=info.created_at,
        last_used_at=info.last_used_at,
        revoked_at=info.revoked_at,
        replaced_by=info.replaced_by,
        status=info.status,
    )


def _unknown(key_id: str) -> Problem:
    return Problem(404, "Not found", f"no API key {key_id!r}")


def api_keys_router(limits: RequestLimits) -> APIRouter:
    router = APIRouter(prefix="/v1/admin/api-keys", tags=["admin"])

    @router.post("", status_code=201, response_model=schemas.ApiKeyIssued)
    async def issue_key(
        body: schemas.ApiKeyBody, deps: Deps, _admin: Admin
    ) -> schemas.ApiKeyIssued:
        """A new key for `accounts`; its secret is in this response only."""
        limits.check_text(body)
        return _issued(await deps.accounts.issue_key(body.accounts, body.label))

    @router.get("", response_model=schemas.ApiKeyPage)
    async def list_keys(
        deps: Deps,
        _admin: Admin,
        account: Annotated[
            str | None, Query(pattern=schemas.NO_NUL, description="Only keys of this account")
        ] = None,
        include_revoked: Annotated[
            bool, Query(description="Also keys that no longer work")
        ] = False,
        limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
    ) -> schemas.ApiKeyPage:
        """Keys newest first, with their visible prefix, accounts, label, creation, last use
        and revocation: never a secret or a digest."""
        found = await deps.accounts.list_keys(account, include_revoked, limit)
        return schemas.ApiKeyPage(items=[_view(info) for info in found])

    @router.delete(
        "/{key_id}",
        status_code=204,
        responses={404: {"description": "No such key"}},
        description="Revoke the key now (a rotated key's grace period ends now; revoking a "
        f"revoked key changes nothing). {REVOCATION_BOUND}",
    )
    async def revoke_key(key_id: KeyId, deps: Deps, _admin: Admin) -> Response:
        try:
            await deps.accounts.revoke_key(key_id)
        except UnknownKey:
            raise _unknown(key_id) from None
        return Response(status_code=204)

    @router.post(
        "/{key_id}/rotate",
        status_code=201,
        response_model=schemas.ApiKeyRotated,
        responses={
            404: {"description": "No such key"},
            409: {"description": "The key is revoked, or was rotated already"},
        },
        description="Issue a new key for the same accounts and label, and revoke the old one "
        "after `grace_seconds` (0 to 86,400; default 0: at once) so that clients can switch "
        f"without a gap. The new key's secret is in this response only. {REVOCATION_BOUND}",
    )
    async def rotate_key(
        key_id: KeyId,
        deps: Deps,
        _admin: Admin,
        body: schemas.RotateKeyBody | None = None,
    ) -> dict[str, Any]:
        grace = (body or schemas.RotateKeyBody()).grace_seconds
        try:
            rotated = await deps.accounts.rotate_key(key_id, grace)
        except UnknownKey:
            raise _unknown(key_id) from None
        except KeyRevoked:
            raise Problem(
                409,
                "Key revoked",
                f"API key {key_id!r} is revoked or was rotated already; rotate its replacement",
            ) from None
        issued = _issued(rotated.issued)
        return schemas.ApiKeyRotated(
            **issued.model_dump(),
            replaces=rotated.old_id,
            old_key_revoked_at=rotated.old_revoked_at,
        ).model_dump(mode="json")

    return router
