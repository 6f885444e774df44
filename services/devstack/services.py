"""The ticketflow services as child processes of `ticketflow dev`, and the demo data."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from services.devstack.processes import free_port, spawn, stop, wait_http_ready
from shared.policy import Policy


@dataclass
class RunningService:
    """One service process, with what it takes to start it again the same way: the same
    command line (so the same port) and the same environment."""

    name: str
    url: str
    argv: tuple[str, ...]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def launch(
        cls, name: str, url: str, argv: tuple[str, ...], env: dict[str, str], log: Path
    ) -> RunningService:
        return cls(name, url, argv, env, log, spawn(argv, log_path=log, env=env))

    def respawn(self) -> None:
        """Start the process again after it exited (call from the main thread: the child's
        parent-death signal is tied to the thread that spawned it)."""
        self.process = spawn(self.argv, log_path=self.log, env=self.env)

    def stop(self) -> None:
        stop(self.process)


def start_service(
    var_dir: Path,
    name: str,
    database_url: str,
    bootstrap_servers: str,
    admin_token: str,
    extra_env: dict[str, str] | None = None,
    *,
    wait: bool = True,
) -> RunningService:
    """`ticketflow NAME serve` (intake, escalation, notify, billing, console) on a free port."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        "TICKETFLOW_ADMIN_TOKEN": admin_token,
        "TICKETFLOW_ENVIRONMENT": "development",
        **(extra_env or {}),
    }
    argv = (sys.executable, "-m", "services.cli.main", name, "serve", "--port", str(port))
    log = var_dir / "logs" / f"{name}.log"
    service = RunningService.launch(name, f"http://127.0.0.1:{port}", argv, env, log)
    if wait:
        wait_ready(service, timeout=45)
    return service


def start_sla(
    var_dir: Path,
    bootstrap_servers: str,
    *,
    name: str = "sla",
    extra_env: dict[str, str] | None = None,
    wait: bool = True,
) -> RunningService:
    """An SLA worker on a free port; several with the same app id share the partitions."""
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        "TICKETFLOW_SLA_DATA_DIR": str(var_dir / name),
        **(extra_env or {}),
    }
    argv = (sys.executable, "-m", "services.cli.main", "sla", "worker", "--port", str(port))
    log = var_dir / "logs" / f"{name}.log"
    service = RunningService.launch(name, f"http://127.0.0.1:{port}", argv, env, log)
    if wait:
        wait_ready(service, timeout=60)
    return service


def wait_ready(service: RunningService, timeout: float) -> None:
    """Poll `/readyz` until 200; stop the service and raise if it does not get there."""
    try:
        wait_http_ready(
            service.process, f"{service.url}/readyz", service.name, service.log, timeout
        )
    except RuntimeError:
        service.stop()
        raise


def seed_demo_accounts(
    intake_url: str, admin_token: str, policies: dict[str, Policy]
) -> list[dict[str, Any]]:
    """One demo account per policy, with an approved contact and an API key (idempotent)."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    today = datetime.now(UTC).date()
    accounts = []
    with httpx.Client(base_url=intake_url, headers=headers, timeout=10) as http:
        for policy in policies.values():
            account_id = f"demo-{policy.id}"
            contact = f"noc@{account_id}.example"
            body: dict[str, Any] = {
                "id": account_id,
                "name": f"Demo customer of {policy.name}",
                "policy": policy.id,
                "plan": policy.plans[0] if policy.plans else None,
                "entitled_from": (today - timedelta(days=365)).isoformat(),
                "entitled_until": (today + timedelta(days=365)).isoformat(),
            }
            if "resolution" in policy.metrics and policy.id == "voximplant":
                body["target_overrides"] = {"resolution": 8}
            created = http.post("/v1/admin/accounts", json=body)
            if created.status_code not in (201, 409):
                raise RuntimeError(f"could not create {account_id}: {created.text}")
            http.post(f"/v1/admin/accounts/{account_id}/contacts", json={"email": contact})
            escalation = {
                level: f"{who}@provider-{policy.id}.example"
                for level, who in ((1, "oncall"), (2, "duty-manager"), (3, "head-of-support"))
            }
            for level, email in escalation.items():
                http.post(
                    f"/v1/admin/accounts/{account_id}/contacts",
                    json={"email": email, "role": "escalation", "level": level},
                )
            key = http.post(
                "/v1/admin/api-keys", json={"accounts": [account_id], "label": "ticketflow dev"}
            )
            key.raise_for_status()
            accounts.append(
                {
                    "account": account_id,
                    "policy": policy.ref,
                    "plan": body["plan"],
                    "contact": contact,
                    "escalation_contacts": escalation,
                    "api_key": key.json()["key"],
                }
            )
    return accounts
