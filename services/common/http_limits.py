"""The request limits of every API, installed with one call: `install_limits(app, service,
settings)` refuses bodies over `max_body_bytes` with 413 before anything parses them, and
keeps the per-API-key rate limiter on the app, where `check_rate` (called wherever a key is
verified) finds it.

A declared Content-Length over the limit is answered at once; a body without one (chunked)
is counted as it arrives and refused as soon as it passes the limit. Header sizes and slow
clients are the server's business (`serving.py`): they are refused before the app runs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.common.http_settings import HttpSettings
from services.common.problems import PROBLEM, Problem
from services.common.rate_limit import RateLimiter, retry_after_header


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
    """Plain ASGI middleware (Starlette's `BaseHTTPMiddleware` costs a task per request)."""

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


def install_limits(app: FastAPI, service: str, settings: HttpSettings) -> None:
    """The body limit (as middleware: add it before any middleware that should see the
    413s) and the rate limiter of `service` (its name in `ticketflow_rate_limited_total`)."""
    app.add_middleware(LimitBody, max_bytes=settings.max_body_bytes)
    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.state.rate_limiter = RateLimiter(
        service, settings.rate_limit_per_second, settings.rate_limit_burst
    )


def rate_refusal(limiter: RateLimiter, key_id: str) -> Problem | None:
    """None when the key may go ahead; else the 429 to answer, with its Retry-After header
    (framework-neutral, for APIs that are not FastAPI)."""
    wait = limiter.take(key_id)
    if wait is None:
        return None
    retry_after = retry_after_header(wait)
    return Problem(
        429,
        "Too many requests",
        f"this API key is over its limit of {limiter.rate:g} requests a second (bursts of "
        f"{limiter.burst}); retry after {retry_after} s",
        headers={"Retry-After": retry_after},
        retry_after_seconds=int(retry_after),
    )


def check_rate(request: Request, key_id: str) -> None:
    """Raise the 429 Problem when the key is over its rate on this replica (a no-op on an app
    without `install_limits`)."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    refusal = None if limiter is None else rate_refusal(limiter, key_id)
    if refusal is not None:
        raise refusal
