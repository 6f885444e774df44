"""Faust's aiokafka transport with a shorter fetch long-poll, as `ticketflow://` broker URLs.

Faust builds its worker consumer with `fetch_max_wait_ms=1500` and no setting to change it.
A broker may hold an empty fetch for that long before answering (the local Tansu broker does:
measured ~750 ms median from an event's publication to its processing at 100 events/s), so
this transport asks for at most FETCH_MAX_WAIT_MS instead. Everything else is Faust's.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as driver

from shared.topics import SLA_STATE

SCHEME = "ticketflow"
STATE_TOPIC_PREFIX = SLA_STATE.name
FETCH_MAX_WAIT_MS = 50


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def verify_event_path(self, now: float, tp: Any) -> None:
        """Faust's slow-processing monitor, except for the state changelog.

        The tracker writes the changelog itself and the worker reads it only to recover on
        assignment; afterwards the changelog partitions stay assigned (paused) while their end
        moves on with every write, so the monitor reported "Stream has not started processing
        TP(ticketflow.sla-state...)" for each of them every few seconds from
        `tp_stream_timeout_secs` (5 min) on. Nothing is wrong with recovery when it says that:
        the next recovery reads the changelog from its start, and the reconciliation with the
        event store that follows repairs any ticket the changelog lags behind. The ticket-event
        partitions are still verified.
        """
        if tp.topic.startswith(STATE_TOPIC_PREFIX):
            return None
        return super().verify_event_path(now, tp)

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this when it builds its fetcher at start().
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = _Consumer


def register() -> str:
    """Make `ticketflow://host:port` resolve to this transport; returns the scheme."""
    TRANSPORTS.data[SCHEME] = f"{__name__}:Transport"
    return SCHEME
