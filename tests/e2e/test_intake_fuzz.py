"""Fuzz the intake API from its own OpenAPI document (schemathesis): no input gives a 5xx.

The server is a real `ticketflow intake serve` process on the test PostgreSQL and broker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from services.devstack.infrastructure import Infrastructure
from services.devstack.processes import free_port
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.deps import IntakeDeps

ADMIN_TOKEN = "fuzz-admin-token-0123456789abcdef"
schema = schemathesis.openapi.from_dict(create_app(IntakeDeps.__new__(IntakeDeps)).openapi())


@pytest.fixture(scope="module")
def intake(infra: Infrastructure, database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TICKETFLOW_ADMIN_TOKEN": ADMIN_TOKEN,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "intake", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "intake did not become ready"
            time.sleep(0.2)
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        httpx.post(
            f"{url}/v1/admin/accounts",
            headers=admin,
            timeout=10,
            json={"id": "fuzz", "name": "Fuzz", "policy": "hosted-voice"},
        )
        httpx.post(
            f"{url}/v1/admin/accounts/fuzz/contacts",
            headers=admin,
            timeout=10,
            json={"email": "noc@fuzz.example"},
        )
        key = httpx.post(
            f"{url}/v1/admin/api-keys", headers=admin, timeout=10, json={"accounts": ["fuzz"]}
        ).json()["key"]
        yield url, {"Authorization": f"Bearer {key}"}
    finally:
        process.terminate()
        process.wait(30)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_input_causes_a_server_error(case, intake) -> None:  # type: ignore[no-untyped-def]
    url, auth = intake
    headers = dict(auth)
    if case.path.startswith("/v1/admin"):
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    response = case.call(base_url=url, headers=headers)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
