"""Session-wide real infrastructure: PostgreSQL and a Kafka-protocol broker, resolved like
`ticketflow dev` does (env vars -> testcontainers when Docker answers -> embedded binaries)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from services.devstack.infrastructure import Infrastructure, infrastructure
from services.devstack.provisioning import ensure_database

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests under tests/unit are `unit` unless marked otherwise; likewise for the others."""
    for item in items:
        folder = Path(str(item.fspath)).relative_to(REPO_ROOT / "tests").parts[0]
        if folder in {"unit", "integration", "e2e"} and not any(
            item.iter_markers(name=name) for name in ("unit", "integration", "e2e")
        ):
            item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    var_dir = tmp_path_factory.mktemp("infra")
    with infrastructure(var_dir) as resolved:
        yield resolved


@pytest.fixture(scope="session")
async def database_url(infra: Infrastructure) -> str:
    """A database of its own for this test session."""
    return await ensure_database(infra.database_url, f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        with contextlib.suppress(Exception):
            await conn.close()
