"""Backoff, outage logging, task supervision and the `/readyz` report of task health, with
injected clocks and sleeps (the same code against real PostgreSQL and Kafka outages is in
tests/integration/test_service_outages.py)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka.errors import CommitFailedError, KafkaConnectionError
from fastapi import FastAPI

from services.common import health
from services.common.backoff import Backoff
from services.common.consumer import BadMessage, ConsumerLoop
from services.common.health import TaskHealth, TaskRegistry
from services.common.ops import ops_router
from services.common.retrying import Outage, retry_until_done
from services.common.supervision import supervise
from services.common.transient import is_transient


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def quick() -> Backoff:
    return Backoff(initial=0.001, cap=0.004)


def test_backoff_doubles_from_its_initial_delay_up_to_its_cap() -> None:
    backoff = Backoff(initial=0.2, cap=10.0, jitter=0.0)
    delays = [backoff.next_delay() for _ in range(9)]
    assert delays == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0, 10.0])
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.2)


def test_a_backoff_needs_a_positive_initial_delay_no_longer_than_its_cap() -> None:
    for initial, cap in ((2.0, 1.0), (0.0, 1.0), (-1.0, 1.0)):
        with pytest.raises(ValueError):
            Backoff(initial=initial, cap=cap)


def test_backoff_jitter_draws_from_the_upper_half_of_each_delay() -> None:
    low = Backoff(initial=1.0, cap=10.0, rand=lambda: 0.999999)
    high = Backoff(initial=1.0, cap=10.0, rand=lambda: 0.0)
    assert low.next_delay() == pytest.approx(0.5, abs=1e-5)
    assert high.next_delay() == pytest.approx(1.0)
    assert all(0.5 <= Backoff(initial=1.0).next_delay() <= 1.0 for _ in range(200))


def test_connection_errors_are_transient_and_bad_data_is_not() -> None:
    import asyncpg

    assert is_transient(ConnectionRefusedError(111, "refused"))
    assert is_transient(asyncpg.exceptions.ConnectionDoesNotExistError("gone"))
    assert is_transient(asyncpg.exceptions.AdminShutdownError("shutting down"))
    assert is_transient(asyncpg.exceptions.CannotConnectNowError("starting up"))
    assert is_transient(KafkaConnectionError())
    assert not is_transient(ValueError("bad"))
    assert not is_transient(asyncpg.exceptions.UniqueViolationError("dup"))


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    outage = Outage("demo loop", logging.getLogger("test.outage"), quick(), clock)
    caplog.set_level(logging.DEBUG, "test.outage")
    for _ in range(7):
        outage.failed(ConnectionRefusedError(111, "refused"))
        clock.now += 1
    outage.succeeded()
    outage.succeeded()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("demo loop failing: ConnectionRefusedError")
    assert lines[1] == "demo loop recovered after 7 failed attempt(s) over 7.0s"


def test_outage_updates_the_running_tasks_health() -> None:
    clock = FakeClock()
    task = TaskHealth("demo", clock)
    task.started()

    async def body() -> None:
        health.attach(task)
        outage = Outage("demo", logging.getLogger("test.outage"), quick(), clock)
        outage.failed(OSError("down"))
        assert (task.state, task.last_error) == ("failing", "OSError: down")
        assert task.problem(stuck_after=60) == "failing"
        clock.now += 5
        outage.succeeded()

    asyncio.run(body())
    assert task.state == "running" and task.problem(stuck_after=60) is None


async def test_retry_until_done_waits_out_transient_errors_and_raises_others() -> None:
    slept: list[float] = []
    calls = 0

    async def sleep(delay: float) -> None:
        slept.append(delay)

    async def step() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise ConnectionRefusedError(111, "refused")
        return "pool"

    log = logging.getLogger("test.retry")
    backoff = Backoff(jitter=0.0)
    assert await retry_until_done(step, "pool", log, backoff=backoff, sleep=sleep) == "pool"
    assert slept == pytest.approx([0.2, 0.4, 0.8])

    async def broken() -> str:
        raise ValueError("syntax error in migration")

    with pytest.raises(ValueError):
        await retry_until_done(broken, "migrations", log, sleep=sleep)


async def test_a_task_that_dies_is_restarted_with_its_error_and_restarts_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    task = TaskHealth("flaky")
    runs = 0

    async def run(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs <= 3:
            raise ConnectionRefusedError(111, f"refused {runs}")
        await stop.wait()

    supervisor = asyncio.create_task(supervise(run, stop, task, backoff=quick()))
    async with asyncio.timeout(5):
        while runs < 4:
            await asyncio.sleep(0.005)
    assert (task.state, task.restarts) == ("running", 3)
    assert task.last_error == "ConnectionRefusedError: [Errno 111] refused 3"
    stop.set()
    await supervisor
    assert task.state == "stopped"
    died = [r for r in caplog.records if "died" in r.getMessage()]
    assert len(died) == 3


async def test_a_task_that_returns_while_the_service_runs_is_restarted() -> None:
    stop = asyncio.Event()
    task = TaskHealth("quitter")
    runs = 0

    async def run(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs > 2:
            await stop.wait()

    supervisor = asyncio.create_task(supervise(run, stop, task, backoff=quick()))
    async with asyncio.timeout(5):
        while runs < 3:
            await asyncio.sleep(0.005)
    assert task.restarts == 2
    assert task.last_error is not None and "returned while the service runs" in task.last_error
    stop.set()
    await supervisor


async def test_a_dead_task_is_reported_between_its_restarts() -> None:
    stop = asyncio.Event()
    task = TaskHealth("dead")

    async def run(stop: asyncio.Event) -> None:
        raise RuntimeError("bug")

    supervisor = asyncio.create_task(
        supervise(run, stop, task, backoff=Backoff(initial=30.0, cap=30.0))
    )
    await asyncio.sleep(0.05)
    assert task.problem(stuck_after=60) == "dead"
    assert task.report(60)["alive"] is False
    stop.set()
    await supervisor


def test_a_task_without_heartbeat_for_longer_than_the_limit_is_stuck() -> None:
    clock = FakeClock()
    registry = TaskRegistry(stuck_after=30.0, now=clock)
    busy = registry.register("busy")
    hung = registry.register("hung")
    busy.started()
    hung.started()
    clock.now += 31
    busy.beat()
    assert registry.unhealthy() == {"hung": "stuck"}
    report = registry.report()["hung"]
    assert report["problem"] == "stuck" and report["seconds_since_heartbeat"] == 31.0
    with pytest.raises(ValueError):
        registry.register("busy")


async def test_a_supervised_loop_beats_through_the_context_variable() -> None:
    clock = FakeClock()
    task = TaskHealth("beating", clock)
    stop = asyncio.Event()

    async def run(stop: asyncio.Event) -> None:
        clock.now += 100
        health.beat()
        await stop.wait()

    supervisor = asyncio.create_task(supervise(run, stop, task))
    await asyncio.sleep(0.01)
    assert task.last_beat == clock.now
    stop.set()
    await supervisor
    health.beat()  # outside any supervised task: nothing to update, no error


@dataclass
class ReadyDeps:
    tasks: TaskRegistry
    checks: dict[str, bool] = field(default_factory=lambda: {"database": True, "broker": True})

    async def readiness(self) -> dict[str, bool]:
        return dict(self.checks)


async def readyz(deps: Any) -> httpx.Response:
    app = FastAPI()
    app.include_router(ops_router(app))
    app.state.deps = deps
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.get("/readyz")


async def test_readyz_names_a_stuck_task_with_503_and_answers_200_when_all_are_healthy() -> None:
    clock = FakeClock()
    registry = TaskRegistry(stuck_after=10.0, now=clock)
    registry.register("escalation outbox").started()
    registry.register("escalation consumer").started()
    assert (await readyz(ReadyDeps(registry))).status_code == 200
    clock.now += 11
    registry.tasks["escalation consumer"].beat()
    response = await readyz(ReadyDeps(registry))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"] == {"database": True, "broker": True, "tasks": False}
    assert body["unhealthy_tasks"] == {"escalation outbox": "stuck"}
    assert body["tasks"]["escalation outbox"]["seconds_since_heartbeat"] == 11.0


class FakeMessage:
    def __init__(self, offset: int) -> None:
        self.topic, self.partition, self.offset = "t", 0, offset
        self.key, self.value, self.headers = b"k", b"v", []


class FakeConsumer:
    """Hands out three messages, then nothing; the first two commits fail."""

    def __init__(self) -> None:
        self.batches = [{("t", 0): [FakeMessage(0), FakeMessage(1), FakeMessage(2)]}]
        self.commit_errors: list[Exception] = [KafkaConnectionError(), CommitFailedError()]
        self.commits = 0

    async def getmany(self, timeout_ms: int) -> dict[Any, list[FakeMessage]]:
        await asyncio.sleep(0.001)
        return self.batches.pop(0) if self.batches else {}

    async def commit(self) -> None:
        if self.commit_errors:
            raise self.commit_errors.pop(0)
        self.commits += 1


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.down = 2

    async def send_and_wait(self, topic: str, value: bytes, **_: Any) -> None:
        if self.down:
            self.down -= 1
            raise KafkaConnectionError()
        self.sent.append((topic, value))


async def test_the_consumer_loop_retries_database_and_broker_errors_and_keeps_going() -> None:
    handled: list[int] = []
    database_down = 3

    async def handle(message: FakeMessage) -> str:
        nonlocal database_down
        if message.offset == 1 and database_down:
            database_down -= 1
            raise ConnectionRefusedError(111, "refused")
        if message.offset == 2:
            raise BadMessage("undecodable", "not json")
        handled.append(message.offset)
        return "applied"

    consumer, producer = FakeConsumer(), FakeProducer()
    loop = ConsumerLoop("svc", consumer, producer, handle, retry_s=0.001, max_retry_s=0.004)
    stop = asyncio.Event()
    task = TaskHealth("svc consumer")
    runner = asyncio.create_task(supervise(loop.run, stop, task, backoff=quick()))
    async with asyncio.timeout(5):
        while consumer.commits < 1:
            await asyncio.sleep(0.005)
    stop.set()
    await runner
    assert handled == [0, 1]
    assert producer.sent == [("t.dlq", b"v")]
    assert task.restarts == 0, "outages are retried inside the loop, not by restarts"


class TwoPartitions(FakeConsumer):
    """Partition 0 holds offsets 0-2, partition 1 offsets 0-1, in one batch."""

    def __init__(self) -> None:
        super().__init__()
        self.commit_errors = []
        self.batches = [
            {
                ("t", 0): [FakeMessage(0), FakeMessage(1), FakeMessage(2)],
                ("t", 1): [_on(1, 0), _on(1, 1)],
            }
        ]


def _on(partition: int, offset: int) -> FakeMessage:
    message = FakeMessage(offset)
    message.partition = partition
    return message


async def test_partitions_in_parallel_keep_each_partitions_order() -> None:
    """Partition 0's first message waits for partition 1 to start: handled one partition
    after the other it would never finish; in parallel it does, each partition in order."""
    partition_one_started = asyncio.Event()
    seen: list[tuple[int, int]] = []

    async def handle(message: FakeMessage) -> str:
        if message.partition == 1:
            partition_one_started.set()
        elif message.offset == 0:
            await partition_one_started.wait()
        seen.append((message.partition, message.offset))
        return "applied"

    consumer = TwoPartitions()
    loop = ConsumerLoop("svc", consumer, FakeProducer(), handle, parallel_partitions=True)
    async with asyncio.timeout(2):
        assert await loop.poll_once(asyncio.Event()) == 5
    assert [o for p, o in seen if p == 0] == [0, 1, 2]
    assert [o for p, o in seen if p == 1] == [0, 1]
    assert consumer.commits == 1

    async def broken(message: FakeMessage) -> str:
        if message.partition == 1:
            raise RuntimeError("not transient")
        await asyncio.sleep(0.01)
        return "applied"

    failing = ConsumerLoop("svc", TwoPartitions(), FakeProducer(), broken, parallel_partitions=True)
    failing._outcome = broken  # type: ignore[method-assign]  # no dead-lettering: the raw error
    with pytest.raises(RuntimeError, match="not transient"):
        await failing.poll_once(asyncio.Event())
