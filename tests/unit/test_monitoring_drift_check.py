"""The drift check itself can fail: it reads what an exposition serves, including a
labelled metric with no child yet, and a name nobody serves is missing."""

from __future__ import annotations

from tests.e2e.monitoring_drift import named_metrics, served_names

EXPOSITION = """# HELP ticketflow_dead_letters_total Messages sent to a dead-letter topic
# TYPE ticketflow_dead_letters_total counter
# HELP ticketflow_sla_timer_lateness_seconds Emit time minus deadline
# TYPE ticketflow_sla_timer_lateness_seconds histogram
ticketflow_sla_timer_lateness_seconds_bucket{le="0.1",type="sla.breached"} 3.0
# TYPE ticketflow_task_up gauge
ticketflow_task_up{task="relay"} 1.0
"""


def test_served_names_include_a_childless_counter_and_histogram_parts() -> None:
    names = served_names(EXPOSITION)

    assert {"ticketflow_dead_letters_total", "ticketflow_task_up"} <= names
    assert "ticketflow_sla_timer_lateness_seconds_bucket" in names
    assert "ticketflow_sla_timer_lateness_seconds_count" in names
    assert "ticketflow_outbox_pending" not in names


def test_the_rules_and_dashboards_name_metrics() -> None:
    named = named_metrics()

    assert "ticketflow_sla_timer_lateness_seconds_bucket" in named
    assert named["ticketflow_outbox_pending"] == {"rules", "dashboards"}
    assert not served_names(EXPOSITION) >= set(named)
