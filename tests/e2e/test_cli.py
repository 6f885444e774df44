"""The public `ticketflow` commands, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def ticketflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "timeline.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_simulate_prints_the_contract(tmp_path: Path) -> None:
    timeline = write(
        tmp_path,
        '{"type": "ticket.opened", "occurred_at": "2026-11-17T10:00:00-05:00", '
        '"data": {"channel": "web", "priority": "high"}}',
        '{"type": "ticket.comment_added", "occurred_at": "2026-11-17T10:10:00-05:00", '
        '"data": {"body": "looking"}}',
    )
    # --now is after both lines (10:10 ET = 15:10Z): a line recorded after --now has not
    # arrived yet.
    done = ticketflow(
        "sla", "simulate", "--policy", "voipster", "--now", "2026-11-17T15:30:00Z", str(timeline)
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["accepted"] is True
    assert set(result["metrics"]) == {
        "first_response",
        "resolution",
        "rfo",
        "closure_confirmation",
        "customer_response",
    }
    first = result["metrics"]["first_response"]
    assert (first["due_at"], first["status"], first["breached_at"]) == (
        "2026-11-17T16:00:00Z",
        "running",
        None,
    )
    assert [e["at"] for e in result["events"]] == sorted(e["at"] for e in result["events"])


def test_simulate_reports_a_rejection(tmp_path: Path) -> None:
    timeline = write(
        tmp_path,
        '{"type": "ticket.opened", "occurred_at": "2026-11-17T10:00:00-05:00", '
        '"data": {"channel": "email", "priority": "emergency"}}',
    )
    done = ticketflow(
        "sla", "simulate", "--policy", "voipster", "--now", "2026-11-17T15:30:00Z", str(timeline)
    )
    result = json.loads(done.stdout)
    assert result["accepted"] is False
    assert "web portal" in result["rejection"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"type": "ticket.opened", "occurred_at": "2026-11-17T10:00:00", '
            '"data": {"channel": "web", "priority": "high"}}',
            "line 1: occurred_at",
        ),
        (
            '{"type": "ticket.opened", "occurred_at": "2026-11-17T10:00:00Z", '
            '"data": {"channel": "fax", "priority": "high"}}',
            "line 1: data",
        ),
        ('{"type": "ticket.opened"', "line 1: not JSON"),
        ('{"type": "ticket.exploded", "occurred_at": "2026-11-17T10:00:00Z"}', "line 1: data"),
    ],
)
def test_simulate_names_the_line_and_field_of_bad_input(
    tmp_path: Path, line: str, message: str
) -> None:
    done = ticketflow("sla", "simulate", "--policy", "voipster", str(write(tmp_path, line)))
    assert done.returncode == 2
    assert message in done.stderr


def test_policy_validate_accepts_the_shipped_policies() -> None:
    done = ticketflow("policy", "validate", "policies")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("ok ") == 5


def test_policy_validate_names_file_path_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    source = (REPO / "policies" / "voipster.yaml").read_text()
    bad.write_text(source.replace("timezone: America/New_York", "timezone: Mars/Olympus"))
    done = ticketflow("policy", "validate", str(bad))
    assert done.returncode == 1
    assert "broken.yaml: calendars.noc.timezone" in done.stderr
    assert "Mars/Olympus" in done.stderr


def test_policy_show_prints_json() -> None:
    done = ticketflow("policy", "show", "hosted-voice")
    assert done.returncode == 0
    shown = json.loads(done.stdout)
    assert shown["id"] == "hosted-voice"
    assert len(shown["calendars"]["standard"]["holidays"]) == 10


def test_help_explains_the_commands() -> None:
    done = ticketflow("--help")
    assert done.returncode == 0
    for command in ("dev", "sla", "policy"):
        assert command in done.stdout


def test_a_missing_setting_is_named_not_a_traceback() -> None:
    import os

    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "escalation", "serve"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "DATABASE_URL: Field required" in done.stderr
    assert "KAFKA_BOOTSTRAP_SERVERS" in done.stderr
    assert "Traceback" not in done.stderr


LATE = (
    '{"type": "ticket.opened", "occurred_at": "2026-11-16T10:00:00Z", '
    '"data": {"channel": "web", "priority": "sev1", "plan": "gold"}}',
    '{"type": "ticket.responded", "occurred_at": "2026-11-16T10:50:00Z", '
    '"recorded_at": "2026-11-16T11:30:00Z", "data": {}}',
)


def test_simulate_a_late_logged_response_retracts_its_breach(tmp_path: Path) -> None:
    done = ticketflow(
        "sla",
        "simulate",
        "-p",
        "voximplant",
        "--now",
        "2026-11-16T12:00:00Z",
        str(write(tmp_path, *LATE)),
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    kinds = [e["type"] for e in result["events"] if e.get("metric") == "first_response"]
    assert kinds.index("sla.breached") < kinds.index("sla.breach_retracted")
    assert result["metrics"]["first_response"]["status"] == "met"


def test_simulate_now_ignores_lines_recorded_after_it(tmp_path: Path) -> None:
    done = ticketflow(
        "sla",
        "simulate",
        "-p",
        "voximplant",
        "--now",
        "2026-11-16T11:15:00Z",
        str(write(tmp_path, *LATE)),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metrics"]["first_response"]["status"] == "breached"


def test_simulate_refuses_lines_out_of_recorded_order(tmp_path: Path) -> None:
    done = ticketflow(
        "sla",
        "simulate",
        "-p",
        "voximplant",
        "--now",
        "2026-11-16T12:00:00Z",
        str(write(tmp_path, LATE[0], LATE[1], LATE[1].replace("11:30", "11:10"))),
    )
    assert done.returncode == 2
    assert "line 3" in done.stderr and "order they were recorded" in done.stderr
