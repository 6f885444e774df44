"""How the API answers: JSON rendered with orjson, and POSTs made idempotent by key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

from services.common import problems
from services.common.api_keys import ApiKey
from services.common.problems import Problem
from services.intake.adapters.idempotency import IdempotencyStore, request_hash
from services.intake.entrypoints.documented_headers import IDEMPOTENCY_KEY
from services.intake.entrypoints.errors import to_problem
from services.intake.entrypoints.request_headers import parse_idempotency_key


class FastJSON(JSONResponse):
    """JSON rendered with orjson (the stdlib encoder showed up in the request profile)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def idempotent(
    request: Request,
    store: IdempotencyStore,
    key: ApiKey,
    status: int,
    handler: Callable[[], Awaitable[Any]],
) -> JSONResponse:
    """Run `handler` once per Idempotency-Key; replay its stored response afterwards. A
    refusal (any 4xx, from a Problem or a domain error) is stored and replayed too."""
    idempotency_key = parse_idempotency_key(request.headers.get(IDEMPOTENCY_KEY))
    if idempotency_key is None:
        body = await handler()
        return FastJSON(body, status_code=status)
    digest = request_hash(request.method, request.url.path, await request.body())
    stored = await store.reserve(key.id, idempotency_key, digest)
    if stored is not None:
        if stored.request_hash != digest:
            raise Problem(
                422,
                "Idempotency key reused",
                "this Idempotency-Key was used for a different request",
            )
        if stored.status == 0:
            raise Problem(
                409,
                "Request in progress",
                "a request with this Idempotency-Key is still being processed",
            )
        return JSONResponse(
            stored.body,
            status_code=stored.status,
            headers={"Idempotent-Replayed": "true"},
            media_type=problems.PROBLEM if stored.status >= 400 else None,
        )
    try:
        body = await handler()
    except Exception as error:
        problem = to_problem(error)
        if problem is not None and problem.status < 500:
            await store.complete(
                key.id, idempotency_key, problem.status, problem.body(request.url.path)
            )
            raise problem from None
        await store.release(key.id, idempotency_key)
        raise
    await store.complete(key.id, idempotency_key, status, body)
    return FastJSON(body, status_code=status)
