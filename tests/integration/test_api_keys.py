"""API key lifecycle over the real PostgreSQL store: revoke (at once here, within the cache
time on other verifiers), rotate (same accounts, optional grace period), list (prefix,
created, last used; never a secret), and what every verifier records of a key's use."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from services.common.api_keys import ApiKeyVerifier
from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_database
from services.intake.adapters.accounts import AccountStore
from services.intake.adapters.event_store import EventStore, migrate
from services.intake.adapters.idempotency import IdempotencyStore
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.deps import IntakeDeps
from shared.policy import load_policies

ADMIN = {"Authorization": "Bearer test-admin-token"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    url = await ensure_database(infra.database_url, f"keys_{uuid.uuid4().hex[:10]}")
    pool = await asyncpg.create_pool(url, min_size=2, max_size=10)
    assert pool is not None
    await migrate(pool)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async def ready() -> dict[str, bool]:
        return {"database": True, "broker": True}

    deps = IntakeDeps(
        store=EventStore(pool),
        accounts=AccountStore(pool, key_cache_seconds=60),
        idempotency=IdempotencyStore(pool),
        policies=load_policies(),
        now=lambda: datetime.now(UTC),
        random_digits=lambda n: str(uuid.uuid4().int)[:n],
        new_ticket_id=uuid.uuid4,
        admin_token="test-admin-token",
        readiness=ready,
    )
    transport = httpx.ASGITransport(app=create_app(deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        for account in ("acme", "beta"):
            created = await http.post(
                "/v1/admin/accounts",
                headers=ADMIN,
                json={"id": account, "name": account, "policy": "voipster"},
            )
            assert created.status_code == 201, created.text
        yield http


async def issue(http: httpx.AsyncClient, *accounts: str, label: str | None = None) -> dict:  # type: ignore[type-arg]
    issued = await http.post(
        "/v1/admin/api-keys", headers=ADMIN, json={"accounts": list(accounts), "label": label}
    )
    assert issued.status_code == 201, issued.text
    body: dict = issued.json()  # type: ignore[type-arg]
    return body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def works(http: httpx.AsyncClient, key: str) -> bool:
    status = (await http.get("/v1/tickets", headers=bearer(key))).status_code
    assert status in (200, 401)
    return status == 200


# --- revoke ----------------------------------------------------------------------------------


async def test_a_revoked_key_stops_working_at_once_here(client: httpx.AsyncClient) -> None:
    key = await issue(client, "acme")
    assert await works(client, key["key"])  # cached for 60 s on this replica
    revoked = await client.delete(f"/v1/admin/api-keys/{key['id']}", headers=ADMIN)
    assert revoked.status_code == 204
    assert not await works(client, key["key"])
    again = await client.delete(f"/v1/admin/api-keys/{key['id']}", headers=ADMIN)
    assert again.status_code == 204


async def test_revoking_an_unknown_key_is_a_404_and_needs_the_admin_token(
    client: httpx.AsyncClient,
) -> None:
    unknown = await client.delete("/v1/admin/api-keys/0123456789ab", headers=ADMIN)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    key = await issue(client, "acme")
    as_itself = await client.delete(f"/v1/admin/api-keys/{key['id']}", headers=bearer(key["key"]))
    assert as_itself.status_code == 401
    assert await works(client, key["key"])


async def test_another_verifier_stops_accepting_a_revoked_key_within_its_cache_time(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """A second replica (or escalation, notify) over the same database."""
    clock = Clock()
    elsewhere = ApiKeyVerifier(pool, cache_seconds=5, now=clock)
    key = await issue(client, "acme")
    assert await elsewhere.authenticate(key["key"]) is not None
    assert (
        await client.delete(f"/v1/admin/api-keys/{key['id']}", headers=ADMIN)
    ).status_code == 204
    clock.now += 4.9
    assert await elsewhere.authenticate(key["key"]) is not None  # still within the bound
    clock.now += 0.2
    assert await elsewhere.authenticate(key["key"]) is None
    uncached = ApiKeyVerifier(pool, cache_seconds=0, now=clock)
    assert await uncached.authenticate(key["key"]) is None


# --- list ------------------------------------------------------------------------------------


async def test_listing_shows_prefix_dates_and_status_but_never_a_secret(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    first = await issue(client, "acme", label="pbx-1")
    second = await issue(client, "acme", "beta")
    assert first["key"].startswith(first["prefix"])
    assert first["prefix"].startswith(f"tf_{first['id']}_") and len(first["prefix"]) == 20
    assert await works(client, first["key"])
    await client.delete(f"/v1/admin/api-keys/{second['id']}", headers=ADMIN)

    listed = await client.get("/v1/admin/api-keys", headers=ADMIN)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert (item["id"], item["prefix"], item["label"]) == (first["id"], first["prefix"], "pbx-1")
    assert item["accounts"] == ["acme"] and item["status"] == "active"
    assert item["created_at"] and item["last_used_at"] and item["revoked_at"] is None
    everything = await client.get("/v1/admin/api-keys?include_revoked=true", headers=ADMIN)
    statuses = {i["id"]: i["status"] for i in everything.json()["items"]}
    assert statuses == {first["id"]: "active", second["id"]: "revoked"}
    beta = await client.get("/v1/admin/api-keys?account=beta&include_revoked=true", headers=ADMIN)
    assert [i["id"] for i in beta.json()["items"]] == [second["id"]]
    secret = first["key"].split("_")[2]
    assert secret not in everything.text and "secret_hash" not in everything.text
    assert (await client.get("/v1/admin/api-keys", headers=bearer(first["key"]))).status_code == 401


async def test_a_key_issued_before_prefixes_is_listed_with_its_id(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await pool.execute(
        "INSERT INTO api_keys (id, secret_hash, accounts) VALUES ('0ld0ld0ld0ld', '\\x00', "
        "'{acme}')"
    )
    await migrate(pool)  # the migration fills prefixes in
    listed = (await client.get("/v1/admin/api-keys", headers=ADMIN)).json()["items"]
    assert [i["prefix"] for i in listed] == ["tf_0ld0ld0ld0ld_"]


# --- last used -------------------------------------------------------------------------------


async def test_last_use_is_recorded_at_most_once_a_minute_per_key(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    clock = Clock()
    verifier = ApiKeyVerifier(pool, cache_seconds=0, now=clock)
    key = await issue(client, "acme")

    async def last_used() -> datetime | None:
        found: datetime | None = await pool.fetchval(
            "SELECT last_used_at FROM api_keys WHERE id = $1", key["id"]
        )
        return found

    assert await last_used() is None
    await verifier.authenticate(key["key"])
    first = await last_used()
    assert first is not None
    await pool.execute(
        "UPDATE api_keys SET last_used_at = last_used_at - interval '5 minutes' WHERE id = $1",
        key["id"],
    )
    clock.now += 59
    await verifier.authenticate(key["key"])
    assert await last_used() < first  # type: ignore[operator]  # not written again yet
    clock.now += 2
    await verifier.authenticate(key["key"])
    assert await last_used() >= first  # type: ignore[operator]


async def test_a_read_only_database_turns_recording_off_and_still_verifies(
    client: httpx.AsyncClient, pool: asyncpg.Pool, infra: Infrastructure
) -> None:
    key = await issue(client, "acme")
    database = await pool.fetchval("SELECT current_database()")
    url = infra.database_url.rsplit("/", 1)[0] + f"/{database}"
    read_only = await asyncpg.create_pool(
        url, min_size=1, max_size=1, server_settings={"default_transaction_read_only": "on"}
    )
    assert read_only is not None
    try:
        verifier = ApiKeyVerifier(read_only, cache_seconds=0)
        for _ in range(2):
            assert await verifier.authenticate(key["key"]) is not None
    finally:
        await read_only.close()


# --- rotate ----------------------------------------------------------------------------------


async def test_rotation_issues_a_key_for_the_same_accounts_and_revokes_the_old_one(
    client: httpx.AsyncClient,
) -> None:
    old = await issue(client, "acme", "beta", label="gateway")
    assert await works(client, old["key"])
    rotated = await client.post(f"/v1/admin/api-keys/{old['id']}/rotate", headers=ADMIN)
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert (new["replaces"], sorted(new["accounts"])) == (old["id"], ["acme", "beta"])
    assert new["id"] != old["id"] and new["key"].startswith(new["prefix"])
    assert not await works(client, old["key"])
    assert await works(client, new["key"])
    listed = await client.get("/v1/admin/api-keys?include_revoked=true", headers=ADMIN)
    by_id = {i["id"]: i for i in listed.json()["items"]}
    assert by_id[old["id"]]["replaced_by"] == new["id"]
    assert by_id[new["id"]]["label"] == "gateway"
    twice = await client.post(f"/v1/admin/api-keys/{old['id']}/rotate", headers=ADMIN)
    assert twice.status_code == 409
    unknown = await client.post("/v1/admin/api-keys/0123456789ab/rotate", headers=ADMIN)
    assert unknown.status_code == 404


async def test_a_rotated_key_keeps_working_for_its_grace_period_only(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    old = await issue(client, "acme")
    clock = Clock()
    elsewhere = ApiKeyVerifier(pool, cache_seconds=300, now=clock)
    rotated = await client.post(
        f"/v1/admin/api-keys/{old['id']}/rotate", headers=ADMIN, json={"grace_seconds": 1}
    )
    assert rotated.status_code == 201, rotated.text
    assert await works(client, old["key"]) and await works(client, rotated.json()["key"])
    assert await elsewhere.authenticate(old["key"]) is not None
    listed = (await client.get("/v1/admin/api-keys", headers=ADMIN)).json()["items"]
    assert {i["id"]: i["status"] for i in listed}[old["id"]] == "expiring"
    await asyncio.sleep(1.2)
    assert not await works(client, old["key"])
    # cached no longer than the grace it had left, whatever the cache time
    clock.now += 1.1
    assert await elsewhere.authenticate(old["key"]) is None
    assert await works(client, rotated.json()["key"])


@pytest.mark.parametrize("grace", [-1, 86_401, 1.5, "soon"])
async def test_a_grace_period_out_of_bounds_is_a_422(
    client: httpx.AsyncClient, grace: object
) -> None:
    old = await issue(client, "acme")
    rotated = await client.post(
        f"/v1/admin/api-keys/{old['id']}/rotate", headers=ADMIN, json={"grace_seconds": grace}
    )
    assert rotated.status_code == 422
    assert rotated.json()["errors"][0]["field"] == "grace_seconds"
    assert await works(client, old["key"])


async def test_revoking_a_key_in_its_grace_period_ends_it_now(client: httpx.AsyncClient) -> None:
    old = await issue(client, "acme")
    await client.post(
        f"/v1/admin/api-keys/{old['id']}/rotate", headers=ADMIN, json={"grace_seconds": 3_600}
    )
    assert await works(client, old["key"])
    assert (
        await client.delete(f"/v1/admin/api-keys/{old['id']}", headers=ADMIN)
    ).status_code == 204
    assert not await works(client, old["key"])
