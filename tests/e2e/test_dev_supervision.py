"""`ticketflow dev` restarts a service killed with -9, on the same port, and the rest of the
stack (PostgreSQL, the memory-only broker, the other services) keeps running."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_dev_stack import _gone_within, _start, open_ticket

KILLED = ("sla", "notify")
KEPT = ("intake", "escalation")


def _stack(var_dir: Path) -> dict[str, Any]:
    return dict(json.loads((var_dir / "dev-stack.json").read_text()))


def _answers(url: str, path: str) -> bool:
    try:
        return httpx.get(f"{url}{path}", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_restarted_and_healthy(var_dir: Path, before: dict[str, Any], timeout: float) -> None:
    """Until each killed service has a new pid, one restart, and answers /healthz."""
    deadline = time.monotonic() + timeout
    pending = set(KILLED)
    while pending and time.monotonic() < deadline:
        services = _stack(var_dir)["services"]
        for name in list(pending):
            now = services[name]
            if (
                now["restarts"] == 1
                and now["pid"] != before[name]["pid"]
                and _answers(before[name]["url"], "/healthz")
            ):
                pending.discard(name)
        time.sleep(0.2)
    assert not pending, f"not restarted and healthy within {timeout:.0f} s: {sorted(pending)}"


def _sla_clocks_served(intake: str, account: dict[str, Any], timeout: float) -> dict[str, Any]:
    """A new ticket reaches the restarted SLA worker, and intake serves its clocks from it."""
    opened = open_ticket(intake, account, channel="email", priority="p2", subject="after kill")
    assert opened.status_code == 201, opened.text
    ticket = opened.json()["ticket_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sla = httpx.get(
            f"{intake}/v1/tickets/{ticket}/sla",
            timeout=5,
            headers={"Authorization": f"Bearer {account['api_key']}"},
        )
        if sla.status_code == 200:
            return dict(sla.json())
        time.sleep(0.2)
    raise AssertionError(f"no SLA clocks for {ticket} within {timeout:.0f} s")


def postgres_restarted_on_its_data_dir(
    var_dir: Path, was: dict[str, Any], intake: str, demo: dict[str, dict[str, Any]]
) -> None:
    """kill -9 of the embedded PostgreSQL: it comes back at the same URL with what was
    committed, and intake takes tickets again."""
    account = demo["demo-hosted-voice"]
    os.kill(was["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = _stack(var_dir)["postgres"]
        if now["restarts"] == 1 and now["pid"] != was["pid"]:
            break
        time.sleep(0.2)
    assert now["restarts"] == 1, now
    assert now["url"] == was["url"]
    assert now["last_exit"]["signal"] == "SIGKILL"
    opened = None
    while time.monotonic() < deadline:
        try:
            opened = open_ticket(intake, account, channel="email", priority="p2", subject="pg")
        except httpx.HTTPError:
            opened = None
        if opened is not None and opened.status_code == 201:
            break
        time.sleep(0.3)
    # Accepted with the demo account and API key committed before the kill: same data.
    assert opened is not None and opened.status_code == 201, opened.text if opened else None


def test_a_service_killed_with_minus_9_is_restarted_and_the_stack_keeps_running(
    tmp_path: Path,
) -> None:
    var_dir = tmp_path / "var"
    proc, stack, _ = _start(var_dir)
    before = stack["services"]
    assert isinstance(before, dict)
    assert all(before[name]["restarts"] == 0 for name in before)
    infra = {part: dict(stack[part]) for part in ("postgres", "kafka")}  # type: ignore[call-overload]
    intake = before["intake"]["url"]
    demo = {a["account"]: a for a in stack["demo_accounts"]}  # type: ignore[attr-defined]
    try:
        for name in KILLED:
            os.kill(before[name]["pid"], signal.SIGKILL)
        # While they are down, intake still takes tickets: nothing was torn down.
        opened = open_ticket(
            intake, demo["demo-hosted-voice"], channel="email", priority="p2", subject="during"
        )
        assert opened.status_code == 201, opened.text

        _wait_restarted_and_healthy(var_dir, before, timeout=60)
        clocks = _sla_clocks_served(intake, demo["demo-hosted-voice"], timeout=30)
        assert clocks["metrics"]["first_response"]["status"] == "running"

        after = _stack(var_dir)
        for name in KILLED:
            service = after["services"][name]
            assert service["url"] == before[name]["url"]  # the same port
            assert service["last_exit"]["signal"] == "SIGKILL"
            assert service["last_exit"]["returncode"] == -signal.SIGKILL
            assert service["last_restart_at"] >= service["last_exit"]["at"]
        for name in KEPT:
            assert after["services"][name]["pid"] == before[name]["pid"]
            assert after["services"][name]["restarts"] == 0
        for part, was in infra.items():
            assert after[part]["pid"] == was["pid"], f"{part} was restarted"
            assert after[part]["restarts"] == 0
        assert after["kafka"]["bootstrap_servers"] == infra["kafka"]["bootstrap_servers"]
        assert after["demo_accounts"] == stack["demo_accounts"]
        assert after["admin_token"] == stack["admin_token"]
        assert _answers(intake, "/readyz")

        postgres_restarted_on_its_data_dir(var_dir, infra["postgres"], intake, demo)
        final = _stack(var_dir)
        pids = [final[part]["pid"] for part in infra]
        pids += [service["pid"] for service in final["services"].values()]
    finally:
        proc.send_signal(signal.SIGTERM)
        out_bytes, _ = proc.communicate(timeout=60)
    out = out_bytes.decode()
    assert proc.returncode == 0, out
    for name in KILLED:
        assert f"{name} died: killed by SIGKILL (pid {before[name]['pid']}" in out, out
        assert f"{name} restarted (pid " in out
    assert "stopped cleanly" in out
    # Ctrl-C/SIGTERM stops everything: no restart once stopping began.
    assert " restarted (pid " not in out.split("stopping ...")[1]
    assert _gone_within(pids, 10), "a restarted service or the infrastructure outlived the stack"
