"""The shipped alert rules name only metrics the SLA worker exports."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import generate_latest

from services.sla.adapters.metrics import SlaMetrics

RULES = Path(__file__).resolve().parents[2] / "deploy" / "alerts" / "sla.rules.yml"


def test_every_metric_in_the_sla_alert_rules_is_exported() -> None:
    metrics = SlaMetrics()
    metrics.lag.labels("0").set(0)
    metrics.provisional.labels("sla.breached")
    exported = {
        line.split()[2]
        for line in generate_latest(metrics.registry).decode().splitlines()
        if line.startswith("# TYPE")
    }
    exported |= {f"{name}_total" for name in exported}
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    assert rules
    for rule in rules:
        names = set(re.findall(r"ticketflow_[a-z_]+", rule["expr"]))
        assert names and names <= exported, (rule["alert"], names - exported)
