"""Batches of ticket events off a Faust stream that close when the stream has caught up.

Faust's `Stream.take_events(max_, within)` closes a batch only when it is full or when its
period (`within`) has passed: a lone event waits out the rest of the period, so at a modest
rate every event was held for half the window on average before the worker started on it.
`take_ready` closes a batch as soon as no further event arrived for `idle` seconds (the
stream has caught up), when it holds `max_` events, or `within` after its first event,
whichever comes first. Under a backlog events arrive back to back and batches still fill.

Acknowledgement is the same as `take_events`: acks are off for the stream and each batch's
events are acked only after the caller has finished with the batch (the SLA worker returns
from a batch only once its effects and states are acknowledged by the broker), so a committed
offset never runs ahead of what was done. While the caller works on a batch no event is
added: the next batch begins after it, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


async def take_ready(
    stream: Any, max_: int, within: float, idle: float
) -> AsyncIterator[list[Any]]:
    """Yield lists of the stream's events (see the module docstring); `within` and `idle`
    in seconds."""
    loop = asyncio.get_running_loop()
    events: list[Any] = []
    arrived = asyncio.Event()
    full = asyncio.Event()
    gate: asyncio.Future[None] | None = None
    """Set while the buffer is full or the caller works on a batch: the processor waits."""

    async def add(value: Any) -> Any:
        nonlocal gate
        while gate is not None:
            await gate
        event = stream.current_event
        if event is None:
            raise RuntimeError("a stream value without its event")
        events.append(event)
        arrived.set()
        if len(events) >= max_:
            gate = loop.create_future()
            full.set()
        return value

    acks = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(add)
    stream._enable_passive(aiter(stream.channel))  # consume in the background, as take_events
    try:
        while not stream.should_stop:
            if not events:
                arrived.clear()
                await stream.wait(arrived)  # an event, or the stream stopping
                if not events:
                    continue
            await _fill(events, full, loop.time() + within, idle)
            if gate is None:
                gate = loop.create_future()
            batch = list(events)
            events.clear()
            yield batch
            # Only once the caller asks for the next batch is this one done: a generator
            # closed instead (the agent cancelled mid-batch) acks nothing, and those events
            # are delivered again.
            for event in batch:
                await stream.ack(event)
            full.clear()
            released, gate = gate, None
            released.set_result(None)
    finally:
        parked, gate = gate, None  # never leave the stream's drainer parked on it
        if parked is not None and not parked.done():
            parked.set_result(None)
        stream.enable_acks = acks
        stream._processors.remove(add)


async def _fill(events: list[Any], full: asyncio.Event, until: float, idle: float) -> None:
    """Wait while events keep arriving: return as soon as the buffer is `full`, at `until`
    (loop time), or after `idle` seconds without a new event."""
    loop = asyncio.get_running_loop()
    seen = len(events)
    while not full.is_set():
        left = until - loop.time()
        if left <= 0:
            return
        try:
            await asyncio.wait_for(full.wait(), min(idle, left))
            return
        except TimeoutError:
            pass
        if len(events) == seen:
            return
        seen = len(events)
