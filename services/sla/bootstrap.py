"""Wires the SLA service: settings + policies -> Faust app with its tracker. Nothing connects at
import time; the broker is reached when the worker starts."""

from __future__ import annotations

import logging
from pathlib import Path

import faust

from services.common.gc_tuning import tune_for_held_state
from services.sla.entrypoints.faust_app import create_app
from services.sla.service_layer.tracker import SlaTracker
from services.sla.settings import SlaSettings
from shared.policy import policies_by_ref

log = logging.getLogger("ticketflow.sla")


def build(settings: SlaSettings, policy_dir: Path | None = None) -> tuple[faust.App, SlaTracker]:
    policies = policies_by_ref(policy_dir)
    log.info("SLA service: policies %s", ", ".join(sorted(policies)))
    return create_app(settings, policies)


def run_worker(
    settings: SlaSettings, policy_dir: Path | None = None, loglevel: str = "info"
) -> None:
    """Run the Faust worker until SIGINT/SIGTERM."""
    from faust import Worker

    tune_for_held_state()
    app, _ = build(settings, policy_dir)
    worker = Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
