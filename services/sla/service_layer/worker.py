"""What the SLA use cases of one worker share: their ports, their settings, and the state the
worker keeps between turns (decoded states, the timer heap, progress per partition, the
tickets waiting for a repair or for the event store)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from services.sla.adapters.metrics import SlaMetrics
from services.sla.domain import state_codec
from services.sla.domain.timers import TimerHeap
from services.sla.domain.tracked import Tracked
from services.sla.domain.watermark import PartitionProgress
from services.sla.service_layer.outages import Outages
from services.sla.service_layer.ports import Offsets, Publisher, StateStore, Truth
from shared.policy import Policy
from shared.topics import TICKET_EVENTS

DECODED_CACHE = 10_000
log = logging.getLogger("ticketflow.sla")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Worker:
    def __init__(
        self,
        store: StateStore,
        publisher: Publisher,
        offsets: Offsets,
        truth: Truth,
        policies: Mapping[str, Policy],
        metrics: SlaMetrics,
        state_topic: str,
        now: Callable[[], datetime] = utc_now,
        settle_s: float = 2.0,
        max_delay_s: float = 120.0,
        partitions: int = TICKET_EVENTS.partitions,
        plain_states: bool = False,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.offsets = offsets
        self.truth = truth
        self.policies = policies
        self.metrics = metrics
        self.now = now
        self.settle_s = settle_s
        self.max_delay_s = max_delay_s
        self.partitions = partitions
        self.state_topic = state_topic
        self.plain_states = plain_states
        """Write states as plain JSON (format 0), readable by releases before format 1."""
        self.decoded: dict[bytes, Tracked] = {}
        """Decoded states of recently touched tickets (the table holds bytes)."""
        self.timers = TimerHeap()
        self.progress: dict[int, PartitionProgress] = {}
        self.assigned: set[int] = set()
        self.ready = asyncio.Event()
        self.reconciled = asyncio.Event()
        self.last_reconciliation: dict[str, float | int] = {}
        self.gaps: set[bytes] = set()
        """Tickets whose repair from the event store failed: retried by the timer loop."""
        self.reconciling: asyncio.Future[None] | None = None
        self.timer_beat = time.monotonic()
        """When the timer loop last went round (it does at least every IDLE_RECHECK_S)."""
        self.waiting: dict[bytes, tuple[float, float]] = {}
        """Due deadlines held back, by ticket: (deadline, since when) for the provisional bound."""
        self.lock = asyncio.Lock()
        """One turn at a time: a batch of ticket events, a round of timers, a repair."""
        self.wake = asyncio.Event()
        self.outages = Outages()

    def load(self, key: bytes) -> Tracked | None:
        decoded = self.decoded.get(key)
        if decoded is not None:
            return decoded
        raw = self.store.get(key)
        if raw is None:
            return None
        try:
            return state_codec.decode(raw, self.policies[state_codec.policy_of(raw)], key.decode())
        except state_codec.StateDecodeError as exc:
            # A state this version cannot read (corrupt, or a format from another version)
            # is a lost state: the event store rebuilds it, as after a lost changelog write.
            log.warning(
                "ticket %s: stored SLA state unreadable (%s); rebuilding it from the event store",
                key.decode(),
                exc,
            )
            self.gaps.add(key)
            return None

    def cache(self, key: bytes, tracked: Tracked) -> None:
        decoded = self.decoded
        decoded.pop(key, None)
        decoded[key] = tracked
        if len(decoded) > DECODED_CACHE:
            del decoded[next(iter(decoded))]
