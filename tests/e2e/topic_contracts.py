"""The contract every topic keeps, checked on what a real run published: each record carries
the CloudEvents binary-mode attributes, its value validates against the checked-in schema for
its type and version, and a consumer reading it with `ticketflow topics tail`'s reader sees
each event once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from services.common.topic_reader import tail
from shared.events.contracts import CONTRACTS_DIR, RECORDS
from shared.topics import ALL_TOPICS, TICKET_EVENTS

PUBLIC = [topic.name for topic in ALL_TOPICS if not topic.internal]
RECORD_SCHEMAS = {topic: name for topic, _, name, _, _ in RECORDS}


def _schema(path: Path) -> Draft202012Validator:
    return Draft202012Validator(json.loads(path.read_text()))


def schema_for(record: dict[str, Any]) -> Draft202012Validator:
    schemas = CONTRACTS_DIR / "schemas"
    if record["topic"] == TICKET_EVENTS.name:
        attrs = record["attributes"]
        version = attrs.get("ce_schemaversion", "1")
        return _schema(schemas / f"{attrs['ce_type']}.v{version}.json")
    return _schema(schemas / RECORD_SCHEMAS[record["topic"]])


def check_every_topic(bootstrap: str) -> list[dict[str, Any]]:
    """Read every published topic from the start, each event once; fails listing every record
    that breaks the contract."""

    async def read() -> list[dict[str, Any]]:
        return [
            record
            async for record in tail(bootstrap, PUBLIC, from_beginning=True, idle_timeout_s=3)
        ]

    records = asyncio.run(read())
    problems = [r for r in records if "violation" in r]
    for record in records:
        if "violation" in record:
            continue
        errors = sorted(schema_for(record).iter_errors(record["value"]), key=str)
        if errors:
            problems.append({**record, "violation": "; ".join(e.message for e in errors[:3])})
    assert not problems, problems[:10]
    return records


def per_topic(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(record["topic"] for record in records)
