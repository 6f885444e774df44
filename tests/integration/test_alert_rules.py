"""The shipped alert rules under `promtool test rules` (Debian's `prometheus` package, which
`make promtool` installs as root): every alert fires from synthetic series where it should,
with its labels and rendered summary, and stays quiet where it should not; the rule file
passes `promtool check rules`; every alert has its runbook section in deploy/k8s/README.md."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.deployment.monitoring import ALERTS, Alert, rule_groups

REPO = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool")
BY_NAME = {alert.name: alert for alert in ALERTS}


@dataclass(frozen=True)
class Case:
    """At `at`, `alert` fires exactly once per entry of `fires`: (its labels beyond
    alertname and severity, its summary as rendered); none when `fires` is empty."""

    alert: str
    series: dict[str, str]
    at: str
    fires: list[tuple[dict[str, str], str]] = field(default_factory=list)


LATENESS = "ticketflow_sla_timer_lateness_seconds_bucket"
CASES = [
    Case(
        "TicketflowTargetDown",
        {'up{job="ticketflow-intake", instance="a"}': "1 0x10",
         'up{job="ticketflow-sla", instance="b"}': "1x10"},
        "5m",
        [({"job": "ticketflow-intake", "instance": "a"},
          "ticketflow-intake on a is not answering /metrics")],
    ),
    Case("TicketflowTargetDown", {'up{job="ticketflow-intake", instance="a"}': "1 0 0 1x5"}, "5m"),
    Case(
        "TicketflowSlaWatermarkStalled",
        {'ticketflow_sla_watermark_lag_seconds{pod="sla-0"}': "0+60x10"},
        "10m",
        [({"pod": "sla-0"}, "The SLA worker's event-store horizon is 10m 0s behind")],
    ),
    # A horizon a second behind, or -1 while the store gives none, is not a stall.
    Case(
        "TicketflowSlaWatermarkStalled",
        {'ticketflow_sla_watermark_lag_seconds{pod="sla-0"}': "1x10",
         'ticketflow_sla_watermark_lag_seconds{pod="sla-1"}': "-1x10"},
        "10m",
    ),
    Case(
        "TicketflowBreachLatenessHigh",
        {f'{LATENESS}{{le="0.1"}}': "0x30", f'{LATENESS}{{le="1"}}': "0x30",
         f'{LATENESS}{{le="5"}}': "0+10x30", f'{LATENESS}{{le="+Inf"}}': "0+10x30"},
        "25m",
        [({}, "Breaches and warnings fire 4.96s after their deadline (p99)")],
    ),
    Case(
        "TicketflowBreachLatenessHigh",
        {f'{LATENESS}{{le="0.1"}}': "0+10x30", f'{LATENESS}{{le="1"}}': "0+10x30",
         f'{LATENESS}{{le="5"}}': "0+10x30", f'{LATENESS}{{le="+Inf"}}': "0+10x30"},
        "25m",
    ),
    Case(
        "TicketflowConsumerLagGrowing",
        {'ticketflow_consumer_lag{service="notify", topic="ticketflow.sla-events", '
         'partition="0"}': "0+50x30"},
        "25m",
        [({"service": "notify", "topic": "ticketflow.sla-events"},
          "notify is 1250 records behind on ticketflow.sla-events, and falling further")],
    ),
    # Far behind but catching up: no page.
    Case(
        "TicketflowConsumerLagGrowing",
        {'ticketflow_consumer_lag{service="notify", topic="ticketflow.sla-events", '
         'partition="0"}': "5000-50x30"},
        "25m",
    ),
    Case(
        "TicketflowSlaConsumerLagGrowing",
        {'ticketflow_sla_consumer_lag{partition="0"}': "0+20x30",
         'ticketflow_sla_consumer_lag{partition="1"}': "0+20x30"},
        "25m",
        [({}, "The SLA workers are 1000 ticket events behind, and falling further")],
    ),
    Case(
        "TicketflowSlaConsumerLagGrowing",
        {'ticketflow_sla_consumer_lag{partition="0"}': "3x30"},
        "25m",
    ),
    Case(
        "TicketflowDeadLettersGrowing",
        {'ticketflow_dead_letters_total{topic="ticketflow.ticket-events", reason="undecodable"}':
         "0 0 0 1 1 1"},
        "5m",
        [({"topic": "ticketflow.ticket-events", "reason": "undecodable"},
          "Records from ticketflow.ticket-events go to its dead-letter topic (undecodable)")],
    ),
    Case(  # the first dead letter of a process: its series appears at 1
        "TicketflowDeadLettersGrowing",
        {'ticketflow_dead_letters_total{topic="ticketflow.escalations", reason="schema"}':
         "_ _ _ 1 1 1"},
        "5m",
        [({"topic": "ticketflow.escalations", "reason": "schema"},
          "Records from ticketflow.escalations go to its dead-letter topic (schema)")],
    ),
    # Dead letters of long ago (the counter stays put): quiet once the window passed them.
    Case(
        "TicketflowDeadLettersGrowing",
        {'ticketflow_dead_letters_total{topic="ticketflow.ticket-events", reason="x"}':
         "0 3x40"},
        "30m",
    ),
    Case(
        "TicketflowOutboxBacklog",
        {'ticketflow_outbox_pending{service="sla"}': "0 5000x20",
         'ticketflow_outbox_pending{service="notify"}': "10x20"},
        "15m",
        [({"service": "sla"}, "sla has 5000 outbox records not yet published")],
    ),
    Case(
        "TicketflowOutboxBacklog",
        {'ticketflow_outbox_pending{service="sla"}': "0 5000 0x20",
         "ticketflow_outbox_lag_events": "0 5000 10x20"},
        "15m",
    ),
    Case(  # intake serves its own registry: its backlog is ticketflow_outbox_lag_events
        "TicketflowOutboxBacklog",
        {"ticketflow_outbox_lag_events": "0 2000x20"},
        "15m",
        [({"service": "intake"}, "intake has 2000 outbox records not yet published")],
    ),
    Case(
        "TicketflowOutboxBehind",
        {"ticketflow_outbox_lag_seconds": "0+60x10"},
        "8m",
        [({}, "Intake's oldest unpublished event is 8m 0s old")],
    ),
    Case("TicketflowOutboxBehind", {"ticketflow_outbox_lag_seconds": "2x10"}, "8m"),
    Case(
        "TicketflowOutboxQuarantined",
        {"ticketflow_outbox_quarantine_open": "0 0 1 1"},
        "3m",
        [({}, "1 intake records the broker will not take are quarantined")],
    ),
    Case("TicketflowOutboxQuarantined", {"ticketflow_outbox_quarantine_open": "0 1 0 0"}, "3m"),
    Case(
        "TicketflowNotifyDeadLetters",
        {'ticketflow_notifications{status="dead"}': "0 0 0 2 2",
         'ticketflow_notifications{status="pending"}': "100x5"},
        "4m",
        [({}, "Notify gave up on 2 notifications in 15 minutes")],
    ),
    Case(
        "TicketflowNotifyDeadLetters",
        {'ticketflow_notifications{status="dead"}': "4x30",
         'ticketflow_notifications{status="pending"}': "100+10x30"},
        "25m",
    ),
    Case(
        "TicketflowTaskDown",
        {'ticketflow_task_up{pod="notify-0", task="delivery"}': "1 0x5",
         'ticketflow_task_up{pod="notify-0", task="consumer"}': "1x6"},
        "4m",
        [({"pod": "notify-0", "task": "delivery"},
          "Background task delivery is down on notify-0")],
    ),
    Case(
        "TicketflowTaskDown",
        {'ticketflow_task_up{pod="notify-0", task="delivery"}': "1 0 1x4",
         'ticketflow_intake_task_healthy{pod="intake-0", task="relay"}': "1x6"},
        "4m",
    ),
    Case(  # and its tasks' health is ticketflow_intake_task_healthy
        "TicketflowTaskDown",
        {'ticketflow_intake_task_healthy{pod="intake-0", task="relay"}': "1 0x5"},
        "4m",
        [({"pod": "intake-0", "task": "relay"}, "Background task relay is down on intake-0")],
    ),
    Case(
        "TicketflowBillingLedgerBehind",
        {'ticketflow_consumer_lag{service="billing", topic="ticketflow.ticket-events", '
         'partition="0"}': "0 800x30",
         'ticketflow_consumer_lag{service="notify", topic="ticketflow.ticket-events", '
         'partition="0"}': "0 900x30"},
        "20m",
        [({}, "Billing is 800 records behind the ticket and SLA events")],
    ),
    Case(
        "TicketflowBillingLedgerBehind",
        {'ticketflow_consumer_lag{service="billing", topic="ticketflow.ticket-events", '
         'partition="0"}': "0 800 0x30"},
        "20m",
    ),
]  # fmt: skip


def _expected(alert: Alert, labels: dict[str, str], summary: str) -> dict[str, Any]:
    return {
        "exp_labels": {"severity": alert.severity, **alert.labels, **labels},
        "exp_annotations": {
            "summary": summary,
            "description": alert.description,
            "runbook_url": f"deploy/k8s/README.md#{alert.runbook}",
        },
    }


def promtool_tests() -> dict[str, Any]:
    return {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": f"{case.alert} {'fires' if case.fires else 'stays quiet'} #{index}",
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                "alert_rule_test": [
                    {
                        "eval_time": case.at,
                        "alertname": case.alert,
                        "exp_alerts": [
                            _expected(BY_NAME[case.alert], labels, summary)
                            for labels, summary in case.fires
                        ],
                    }
                ],
            }
            for index, case in enumerate(CASES)
        ],
    }


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    if PROMTOOL is None:
        pytest.skip("promtool is not installed: `make promtool` (as root) installs Debian's")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_groups(), sort_keys=False))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(promtool_tests(), sort_keys=False))
    return tmp_path


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_rule_file_is_valid(rules_dir: Path) -> None:
    checked = _promtool("check", "rules", "rules.yaml", cwd=rules_dir)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_where_it_should_and_only_there(rules_dir: Path) -> None:
    tested = _promtool("test", "rules", "tests.yaml", cwd=rules_dir)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_a_wrong_expectation_fails_promtool(rules_dir: Path) -> None:
    """The harness can fail: a case expecting a quiet alert to fire is refused."""
    wrong = promtool_tests()
    quiet = next(t for t in wrong["tests"] if "stays quiet" in t["name"])
    check = quiet["alert_rule_test"][0]
    check["exp_alerts"] = [_expected(BY_NAME[check["alertname"]], {}, "anything")]
    wrong["tests"] = [quiet]
    (rules_dir / "wrong.yaml").write_text(yaml.safe_dump(wrong, sort_keys=False))
    assert _promtool("test", "rules", "wrong.yaml", cwd=rules_dir).returncode != 0


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    for alert in ALERTS:
        cases = [case for case in CASES if case.alert == alert.name]
        assert any(case.fires for case in cases), f"{alert.name}: no case where it fires"
        assert any(not case.fires for case in cases), f"{alert.name}: no case where it is quiet"


def test_every_alert_has_a_runbook_section() -> None:
    readme = (REPO / "deploy" / "k8s" / "README.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#{2,4} (.+)$", readme, flags=re.MULTILINE)
    }
    missing = [alert.name for alert in ALERTS if alert.runbook not in anchors]
    assert not missing, f"no runbook heading in deploy/k8s/README.md for {missing}"
