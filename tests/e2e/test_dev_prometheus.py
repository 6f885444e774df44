"""`ticketflow dev --with-prometheus`: a real Prometheus scrapes every service of the stack
(each target up) and has the shipped alert rules loaded; it stops with the stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from services.deployment.monitoring import ALERTS
from tests.e2e.test_dev_stack import CLI


def _start(var_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    proc = subprocess.Popen(
        [*CLI, "--var-dir", str(var_dir), "--with-prometheus"],
        env={**env, "TICKETFLOW_NO_DOCKER": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    threading.Thread(target=lambda: proc.stdout and proc.stdout.read(), daemon=True).start()
    state = var_dir / "dev-stack.json"
    give_up = time.monotonic() + 90
    while not state.exists():
        assert proc.poll() is None, f"ticketflow dev exited ({proc.returncode})"
        assert time.monotonic() < give_up, "not ready within 90 s"
        time.sleep(0.2)
    time.sleep(0.2)
    return proc, json.loads(state.read_text())


def test_prometheus_scrapes_every_service_with_the_rules_loaded(tmp_path: Path) -> None:
    if shutil.which("prometheus") is None:
        pytest.skip("no prometheus binary: `make promtool` (as root) installs Debian's")
    proc, stack = _start(tmp_path / "var")
    try:
        url = stack["prometheus"]["url"]
        pid = stack["prometheus"]["pid"]
        wanted = {f"ticketflow-{name}" for name in stack["services"]}
        health: dict[str, str] = {}
        give_up = time.monotonic() + 30
        while time.monotonic() < give_up:
            targets = httpx.get(f"{url}/api/v1/targets", timeout=5).json()["data"]
            health = {t["labels"]["job"]: t["health"] for t in targets["activeTargets"]}
            if set(health) == wanted and set(health.values()) == {"up"}:
                break
            time.sleep(1)
        assert set(health) == wanted and set(health.values()) == {"up"}, health
        rules = httpx.get(f"{url}/api/v1/rules", timeout=5).json()["data"]["groups"]
        loaded = {
            rule["name"] for group in rules for rule in group["rules"] if rule["type"] == "alerting"
        }
        assert loaded == {alert.name for alert in ALERTS}
        scraped = httpx.get(
            f"{url}/api/v1/query", params={"query": "ticketflow_task_up"}, timeout=5
        ).json()["data"]["result"]
        assert scraped, "no series scraped from the services"
    finally:
        proc.terminate()
        proc.wait(60)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
