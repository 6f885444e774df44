"""Writing one turn's effects, in the order that makes a crash at any point safe.

1. encode the new states (a state that cannot be encoded dead-letters its events here, before
anything left the worker), 2. publish SLA events, commands and dead letters and wait for the
broker's acknowledgement, 3. write the new states (local table, then the changelog,
acknowledged too), 4. only then return: Faust acks a batch's events after the agent's handler
returns, and commits only acked offsets. Publishing retries until the broker takes the
records, so a batch is never given back unprocessed (an error would let Faust ack it anyway).
A crash before 3 replays the events and re-emits the same records with the same deterministic
ids (consumers deduplicate); a crash after 3 finds the states at the newer version and skips
the redelivered events.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from services.sla.adapters.messages import RawMessage
from services.sla.domain import state_codec
from services.sla.domain.records import OutRecord
from services.sla.domain.tracked import Tracked
from services.sla.service_layer.dead_letters import dead_letter
from services.sla.service_layer.effects import EFFECT_TOPICS, count_emitted
from services.sla.service_layer.worker import Worker

log = logging.getLogger("ticketflow.sla")


@dataclass
class Batch:
    """What one turn derived: new states, records to publish, and the messages per ticket."""

    emitted_at: datetime
    changed: dict[bytes, Tracked] = field(default_factory=dict)
    out: list[OutRecord] = field(default_factory=list)
    sources: dict[bytes, list[RawMessage]] = field(default_factory=dict)


async def commit(worker: Worker, batch: Batch, began: float | None = None) -> None:
    """Encode, publish the effects, then write the states and their changelog. With `began`
    (the batch's `perf_counter` start), the fold, publish and state stages are measured."""
    encoded = encode(batch, worker.plain_states)
    stages = worker.metrics.batch_stage
    folded = time.perf_counter()
    if began is not None:
        stages.labels("fold").observe(folded - began)
    await publish(worker, batch.out)
    published = time.perf_counter()
    changelog = []
    for key, (tracked, raw) in encoded.items():
        worker.store.remember(key, raw)
        changelog.append(OutRecord(worker.state_topic, key, raw, partition=tracked.partition))
        worker.cache(key, tracked)
        worker.timers.schedule(key, tracked.partition, tracked.next_due_s)
    await publish(worker, changelog)
    if began is not None:
        stages.labels("publish").observe(published - folded)
        stages.labels("state").observe(time.perf_counter() - published)
    count_emitted(worker.metrics, batch.out)


def encode(batch: Batch, plain: bool = False) -> dict[bytes, tuple[Tracked, bytes]]:
    """Encode every changed state; a ticket whose state cannot be encoded loses this turn's
    effects and its events go to the dead-letter topic (its neighbours are kept)."""
    encoded: dict[bytes, tuple[Tracked, bytes]] = {}
    refused: set[bytes] = set()
    for key, tracked in batch.changed.items():
        try:
            encoded[key] = (tracked, state_codec.encode(tracked, plain))
        except (TypeError, ValueError, OverflowError) as exc:
            log.error("ticket %s: state cannot be encoded: %s", key.decode(), exc)
            refused.add(key)
    if refused:
        batch.out[:] = [
            record
            for record in batch.out
            if not (record.key in refused and record.topic in EFFECT_TOPICS)
        ]
        for key in refused:
            for message in batch.sources.get(key, ()):
                batch.out.append(
                    dead_letter(message, "the resulting state cannot be stored", "error")
                )
    return encoded


async def publish(worker: Worker, records: list[OutRecord]) -> None:
    """Publish, retrying with backoff until the broker acknowledges (never gives up: the
    offsets of these events must not be committed before their effects are out)."""
    await worker.outages.until_done("broker", lambda: worker.publisher.publish(records))
