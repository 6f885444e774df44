"""Waiting that a service's stop request cuts short."""

from __future__ import annotations

import asyncio


async def wait_for_either(
    stop: asyncio.Event, wake: asyncio.Event | None, timeout: float | None
) -> bool:
    """Wait until `stop` or `wake` is set or `timeout` passes; True when `stop` is set."""
    waiters = {asyncio.ensure_future(stop.wait())}
    if wake is not None:
        waiters.add(asyncio.ensure_future(wake.wait()))
    await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    return stop.is_set()
