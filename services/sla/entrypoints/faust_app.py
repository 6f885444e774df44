"""The Faust app: one agent over `ticketflow.ticket-events`, the state table, the timer task and
the rebalancing hooks. Thin: every decision is the tracker's (the service layer's, and below it
the pure core's); `services/sla/bootstrap.py` builds the adapters and the tracker between
`create_app` and `register_agents`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust

from services.common.kafka_security import KafkaSecurity
from services.sla.adapters import faust_transport
from services.sla.adapters.messages import RawMessage
from services.sla.entrypoints.batching import take_ready
from services.sla.entrypoints.http_limits import application_options
from services.sla.entrypoints.table_routing import forwarding_router
from services.sla.service_layer.tracker import SlaTracker
from services.sla.settings import SlaSettings
from shared.topics import SLA_STATE, TICKET_EVENTS

log = logging.getLogger("ticketflow.sla")


@dataclass(frozen=True)
class FaustParts:
    """The app and what the agents and the state table adapter are built on."""

    app: faust.App
    source: Any
    table: Any


def raw_message(event: Any) -> RawMessage:
    message = event.message
    headers = message.headers
    if isinstance(headers, dict):
        headers = list(headers.items())
    return RawMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=list(headers or ()),
        timestamp=message.timestamp,
    )


def create_app(settings: SlaSettings) -> FaustParts:
    """The Faust app, its source topic and its state table; nothing connects yet."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    scheme = faust_transport.register()
    app = faust.App(
        settings.app_id,
        broker=[f"{scheme}://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        store="memory://",
        autodiscover=False,
        datadir=str(settings.data_dir),
        topic_partitions=TICKET_EVENTS.partitions,
        topic_replication_factor=settings.replication_factor,
        table_standby_replicas=0,
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.session_timeout_s / 5,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=True,
        web_bind=settings.host,
        web_port=settings.port,
        web_host=settings.advertised_host or settings.host,
        # Only this app's pages (web.py): Faust's router, table, statistics, graph and
        # performance pages are off. Table routing needs none of them: the owner of a key
        # comes from the partition assignment, not from /router.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        web_application_options=application_options(settings),
        Router=forwarding_router(settings.route_timeout_s),
        broker_credentials=KafkaSecurity().faust_credentials(),
    )
    source = app.topic(
        TICKET_EVENTS.name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=TICKET_EVENTS.partitions,
    )
    changelog = app.topic(
        settings.state_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=SLA_STATE.partitions,
        compacting=True,
        internal=True,
    )
    table = app.Table(
        "sla_state",
        default=None,
        key_type=bytes,  # bytes: stored and logged raw
        value_type=bytes,
        partitions=SLA_STATE.partitions,
        changelog_topic=changelog,
    )
    return FaustParts(app, source, table)


def register_agents(
    parts: FaustParts,
    settings: SlaSettings,
    tracker: SlaTracker,
    close_clients: Callable[[], Awaitable[None]],
) -> None:
    """The agent over ticket events, the timer task, the rebalancing hooks, and
    `close_clients` on shutdown."""
    app, source, table = parts.app, parts.source, parts.table
    within, idle = settings.batch_window_ms / 1000, settings.batch_idle_ms / 1000

    @app.agent(source, name="track-sla")
    async def track(stream: Any) -> None:
        batches = (
            take_ready(stream, settings.batch_size, within, idle)
            if idle
            else stream.take_events(settings.batch_size, within=within)
        )
        async for events in batches:
            await tracker.handle_batch_isolated([raw_message(event) for event in events])

    @app.task
    async def timers() -> None:
        await tracker.run_timers()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
        tps = args[0] if args else kwargs.get("revoked", ())
        tracker.partitions_revoked(tp.partition for tp in tps if tp.topic == TICKET_EVENTS.name)

    @table.on_recover
    async def recovered() -> None:
        assignment = app.consumer.assignment()
        tracker.state_recovered(tp.partition for tp in assignment if tp.topic == TICKET_EVENTS.name)
        tracker.start_reconciliation()

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def shutdown(sender: Any, *args: Any, **kwargs: Any) -> None:
        await close_clients()
