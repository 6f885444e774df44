"""`take_ready` over a stand-in for a Faust stream: the processors run in the stream's
passive drainer, one value at a time, as Faust's do (the real stream drives it in
tests/integration/test_sla_service.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from services.sla.entrypoints.batching import take_ready


class Stream:
    """What `take_ready` uses of `faust.Stream`: processors, the passive drainer, acks."""

    def __init__(self) -> None:
        self.enable_acks = True
        self.current_event: Any = None
        self._processors: list[Any] = []
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.acked: list[Any] = []
        self.should_stop = False
        self.channel = self
        self.drainer: asyncio.Task[None] | None = None

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> Any:  # the channel: never read directly here
        raise StopAsyncIteration

    def add_processor(self, processor: Any) -> None:
        self._processors.append(processor)

    def _enable_passive(self, channel: Any) -> None:
        self.drainer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while True:
            value = await self.queue.get()
            self.current_event = ("event", value)
            for processor in list(self._processors):
                value = await processor(value)

    async def wait(self, event: asyncio.Event) -> None:
        await event.wait()

    async def ack(self, event: Any) -> bool:
        self.acked.append(event)
        return True


def values(batch: list[Any]) -> list[int]:
    return [value for _, value in batch]


async def test_a_batch_closes_when_no_event_follows_within_idle() -> None:
    stream = Stream()
    batches: AsyncIterator[list[Any]] = take_ready(stream, 100, within=5.0, idle=0.01)
    for value in (1, 2, 3):
        stream.queue.put_nowait(value)
    loop = asyncio.get_running_loop()
    began = loop.time()
    first = await asyncio.wait_for(batches.__anext__(), 1.0)
    assert values(first) == [1, 2, 3]
    assert loop.time() - began < 1.0  # not the 5 s window
    assert stream.acked == []  # not before the caller is done with it
    stream.queue.put_nowait(4)
    second = await asyncio.wait_for(batches.__anext__(), 1.0)
    assert values(second) == [4]
    assert values(stream.acked) == [1, 2, 3]
    await batches.aclose()  # type: ignore[attr-defined]


async def test_a_full_batch_holds_max_events_and_the_rest_wait_in_order() -> None:
    stream = Stream()
    batches = take_ready(stream, 3, within=5.0, idle=1.0)
    for value in range(7):
        stream.queue.put_nowait(value)
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert values(await asyncio.wait_for(batches.__anext__(), 1.0)) == [0, 1, 2]
    assert loop.time() - began < 0.5  # full: no idle wait
    assert values(await asyncio.wait_for(batches.__anext__(), 1.0)) == [3, 4, 5]
    assert values(await asyncio.wait_for(batches.__anext__(), 3.0)) == [6]
    assert values(stream.acked) == [0, 1, 2, 3, 4, 5]
    await batches.aclose()  # type: ignore[attr-defined]


async def test_a_batch_closed_unfinished_is_not_acked_and_the_drainer_goes_on() -> None:
    stream = Stream()
    batches = take_ready(stream, 2, within=5.0, idle=0.01)
    for value in range(4):
        stream.queue.put_nowait(value)
    assert values(await asyncio.wait_for(batches.__anext__(), 1.0)) == [0, 1]
    await batches.aclose()  # type: ignore[attr-defined]  # the agent cancelled mid-batch
    assert stream.acked == []  # delivered again after a restart, never committed
    assert stream.enable_acks is True and stream._processors == []
    await asyncio.sleep(0.05)
    assert stream.queue.empty()  # the drainer was released, not parked on the gate
    assert stream.drainer is not None and not stream.drainer.done()
    stream.drainer.cancel()
