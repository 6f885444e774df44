"""Wires the SLA service: settings + policies -> the Faust app, the adapters behind the
tracker's ports, the tracker, its agents and pages. Nothing connects at import time; the
broker and the database are reached when the worker starts."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import faust

from services.common import logs, tracing
from services.common.gc_tuning import tune_for_held_state
from services.common.rate_limit import RateLimiter
from services.sla.adapters.api_key_store import ApiKeyStore
from services.sla.adapters.event_store_truth import EventStoreTruth
from services.sla.adapters.faust_io import FaustOffsets, FaustStateTable, KafkaPublisher
from services.sla.adapters.metrics import SlaMetrics
from services.sla.entrypoints.api_auth import Authenticator
from services.sla.entrypoints.faust_app import create_app, register_agents
from services.sla.entrypoints.web import ApiAccess, register_pages
from services.sla.service_layer.tracker import SlaTracker
from services.sla.settings import SlaSettings
from shared.policy import Policy, policies_by_ref
from shared.topics import TICKET_EVENTS

log = logging.getLogger("ticketflow.sla")


def build(settings: SlaSettings, policy_dir: Path | None = None) -> tuple[faust.App, SlaTracker]:
    policies = policies_by_ref(policy_dir)
    log.info("SLA service: policies %s", ", ".join(sorted(policies)))
    return wire(settings, policies)


def wire(settings: SlaSettings, policies: Mapping[str, Policy]) -> tuple[faust.App, SlaTracker]:
    parts = create_app(settings)
    store = FaustStateTable(parts.table)
    metrics = SlaMetrics()
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers)
    truth = EventStoreTruth(settings.database_url)
    keys = ApiKeyStore(settings.database_url, cache_seconds=settings.api_key_cache_seconds)
    tracker = SlaTracker(
        store,
        publisher,
        FaustOffsets(parts.app, TICKET_EVENTS.name),
        truth,
        policies,
        metrics,
        settings.state_topic,
        settle_s=settings.settle_ms / 1000,
        max_delay_s=settings.max_delay_s,
        plain_states=settings.state_format == "plain",
    )

    async def close_clients() -> None:
        """The reconciliation, the tracker's producer (flushing), its event store pool and the
        API keys' pool stop with the app."""
        tracker.stop_reconciliation()
        await publisher.close()
        await truth.close()
        await keys.close()

    register_agents(parts, settings, tracker, close_clients)
    access = ApiAccess(
        Authenticator(keys, settings.internal_token.get_secret_value()),
        RateLimiter("sla", settings.rate_limit_per_second, settings.rate_limit_burst),
    )
    register_pages(parts.app, parts.table, tracker, store, metrics, access)
    return parts.app, tracker


def run_worker(
    settings: SlaSettings, policy_dir: Path | None = None, loglevel: str = "info"
) -> None:
    """Run the Faust worker until SIGINT/SIGTERM."""
    from faust import Worker

    tune_for_held_state()
    tracing.configure("sla")
    app, _ = build(settings, policy_dir)
    worker = Worker(
        app, loglevel=loglevel, quiet=True, logging_config=logs.dict_config("sla", loglevel)
    )
    worker.execute_from_commandline()
