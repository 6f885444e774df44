"""Tracking ticket events: a batch off `ticketflow.ticket-events` in, SLA events, commands,
dead letters and new states out (written by `commit`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from services.common import logs, tracing
from services.common.consumer import consumed_attributes, record_ids
from services.sla.adapters.messages import RawMessage, decode_message
from services.sla.domain import state_codec
from services.sla.domain.processing import ProcessingError, apply_event
from services.sla.domain.watermark import PartitionProgress
from services.sla.service_layer.commit import Batch, commit, publish
from services.sla.service_layer.dead_letters import dead_letter
from services.sla.service_layer.effects import records_of
from services.sla.service_layer.repair import repair_many
from services.sla.service_layer.worker import Worker
from shared.events.codec import DecodeError

log = logging.getLogger("ticketflow.sla")

Handle = Callable[[RawMessage, Batch], str]


def handle_message(worker: Worker, message: RawMessage, batch: Batch) -> str:
    """Apply one message to its ticket within `batch`; return its outcome (applied, duplicate,
    held, dead_lettered). With a trace context on the record (or tracing on), in a span
    continuing it: the SLA records it causes carry it on, and so does the ticket's state,
    for the timers it sets."""
    with logs.about(**record_ids(message)):
        return _in_span(worker, message, batch)


def _in_span(worker: Worker, message: RawMessage, batch: Batch) -> str:
    parent = tracing.header_context(message.headers)
    if parent is None and not tracing.enabled():
        return _handle_message(worker, message, batch)
    with tracing.span(
        f"{message.topic} process",
        parent=parent,
        kind=tracing.SpanKind.CONSUMER,
        attributes=consumed_attributes("sla", message),
    ) as span:
        outcome = _handle_message(worker, message, batch)
        span.set_attribute("ticketflow.outcome", outcome)
        return outcome


def _handle_message(worker: Worker, message: RawMessage, batch: Batch) -> str:
    try:
        key, event = decode_message(message)
    except DecodeError as exc:
        batch.out.append(dead_letter(message, str(exc), "undecodable"))
        return "dead_lettered"
    policy = worker.policies.get(event.policy)
    if policy is None:
        batch.out.append(dead_letter(message, f"policy {event.policy} is not loaded", "policy"))
        return "dead_lettered"
    try:
        tracked = batch.changed.get(key) or worker.load(key)
        decision = apply_event(tracked, event, key.decode(), message.partition, policy)
    except (ProcessingError, state_codec.StateDecodeError, KeyError) as exc:
        batch.out.append(dead_letter(message, str(exc), "refused"))
        return "dead_lettered"
    except Exception as exc:  # a defect on one event must not stop the partition
        log.exception("ticket %s: unexpected error on %s", key.decode(), event.type)
        batch.out.append(dead_letter(message, f"{type(exc).__name__}: {exc}", "error"))
        return "dead_lettered"
    if decision.outcome != "duplicate":
        traceparent = tracing.current().get("traceparent")
        if traceparent is not None and decision.tracked.trace != traceparent:
            decision.tracked = replace(decision.tracked, trace=traceparent)
        batch.changed[key] = decision.tracked
        batch.sources.setdefault(key, []).append(message)
        batch.out.extend(records_of(decision, batch.emitted_at, worker.metrics))
    if decision.outcome == "held":
        log.warning(
            "ticket %s: sequence %d arrived before %d; repairing from the event store",
            key.decode(),
            event.sequence,
            decision.tracked.version + 1,
        )
    return decision.outcome


async def handle_batch(worker: Worker, messages: list[RawMessage], handle: Handle) -> None:
    """Apply the messages with `handle`, repair the tickets a gap held, commit the effects,
    then note how far each partition got."""
    asked = time.perf_counter()
    async with worker.lock:
        began = time.perf_counter()
        stages = worker.metrics.batch_stage
        stages.labels("lock").observe(began - asked)
        batch = Batch(worker.now())
        observe_waits(worker, messages, time.time())
        for message in messages:
            worker.metrics.events.labels(handle(message, batch)).inc()
        gapped = [key for key, tracked in batch.changed.items() if tracked.held]
        if gapped:
            await repair_many(worker, gapped, batch, "gap")
        await commit(worker, batch, began)
        for message in messages:
            progress = worker.progress.setdefault(message.partition, PartitionProgress())
            progress.processed(message.offset)
    worker.wake.set()


def observe_waits(worker: Worker, messages: list[RawMessage], now_s: float) -> None:
    """How long each record waited between the broker and this batch (by the wall clock the
    broker's timestamps are on: a measurement, not a decision, so not the injected clock)."""
    wait = worker.metrics.record_wait
    for message in messages:
        if message.timestamp is not None:
            wait.observe(max(0.0, now_s - message.timestamp))


async def handle_batch_isolated(
    worker: Worker,
    messages: list[RawMessage],
    handle_batch: Callable[[list[RawMessage]], Awaitable[None]],
) -> None:
    """`handle_batch`, and if it fails on a defect, each message on its own, dead-lettering
    the ones that still fail: the batch is never handed back half done (Faust would ack and
    commit it all the same) and one bad record never stops its neighbours."""
    try:
        await handle_batch(messages)
        return
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("a batch of %d failed; processing its records one by one", len(messages))
    for message in messages:
        try:
            await handle_batch([message])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception(
                "record %s[%d]@%d failed", message.topic, message.partition, message.offset
            )
            worker.metrics.events.labels("dead_lettered").inc()
            await publish(worker, [dead_letter(message, f"{type(exc).__name__}: {exc}", "error")])
