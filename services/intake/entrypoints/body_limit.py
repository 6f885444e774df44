"""Refuses request bodies over a size with 413, before anything reads them into memory.

A declared Content-Length over the limit is answered at once; a body without one (chunked)
is counted as it arrives and refused as soon as it passes the limit."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.common.problems import PROBLEM, Problem


class BodyTooLarge(HTTPException):
    """Raised from `receive` (FastAPI passes HTTPExceptions from body reading through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")
        self.limit = limit


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "Request body too large",
        f"the request body is larger than the limit of {limit} bytes",
        limit_bytes=limit,
    )


async def body_too_large(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return JSONResponse(
        too_large(exc.limit).body(request.url.path), status_code=413, media_type=PROBLEM
    )


class LimitBody:
    """Plain ASGI middleware (no per-request task, as `MeasureRequests`)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    response = JSONResponse(
                        too_large(self.max_bytes).body(scope["path"]),
                        status_code=413,
                        media_type=PROBLEM,
                        headers={"Connection": "close"},
                    )
                    await response(scope, receive, send)
                    return
                break
        received = 0

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)
