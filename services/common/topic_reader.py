"""Reading ticketflow's topics the way a downstream consumer should: check each record's
CloudEvents attributes, upcast old payload versions, and drop redeliveries by `ce_id`.

Delivery is at least once: a record published again after a crash or a rebalance keeps its
`ce_id`, so a consumer that remembers the ids it has handled acts on each event once. Ticket
events are upcast on read (`shared.events.codec.from_kafka` runs the upcasters), so a consumer
written against the current schema version reads old records too. This module backs
`ticketflow topics tail` and the end-to-end contract test; an analytics consumer can copy its
shape."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel

from shared.events.codec import DecodeError, from_kafka
from shared.events.contracts import RECORDS
from shared.events.published import REQUIRED
from shared.topics import TICKET_EVENTS

RECORD_MODELS: dict[str, type[BaseModel]] = {topic: model for topic, _, _, model, _ in RECORDS}


class ContractViolation(ValueError):
    """A record that breaks the published contract (names what is wrong)."""


class Deduplicator:
    """Remembers the last `capacity` ids seen; `first_time(id)` is True once per id."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def first_time(self, event_id: str) -> bool:
        if event_id in self._seen:
            self._seen.move_to_end(event_id)
            return False
        self._seen[event_id] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True


def attributes(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    """The `ce_*` attributes of a record; ContractViolation if a required one is missing,
    empty or not UTF-8, or `ce_time` is not an RFC 3339 instant with an offset."""
    found: dict[str, str] = {}
    for name, raw in headers or ():
        if name.startswith("ce_"):
            try:
                found[name] = raw.decode()
            except UnicodeDecodeError:
                raise ContractViolation(f"header {name} is not UTF-8") from None
    missing = [name for name in REQUIRED if not found.get(name)]
    if missing:
        raise ContractViolation(f"missing CloudEvents attributes: {', '.join(missing)}")
    if found["ce_specversion"] != "1.0":
        raise ContractViolation(f"ce_specversion {found['ce_specversion']!r} is not 1.0")
    try:
        instant = datetime.fromisoformat(found["ce_time"])
    except ValueError:
        raise ContractViolation(f"ce_time {found['ce_time']!r} is not RFC 3339") from None
    if instant.utcoffset() is None:
        raise ContractViolation(f"ce_time {found['ce_time']!r} has no UTC offset")
    return found


def read_record(
    topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> dict[str, Any]:
    """One record as a consumer sees it: its attributes, its payload at the current schema
    version (a ticket event's whole envelope, upcast; the record model otherwise), and the
    `value` as published."""
    attrs = attributes(headers)
    if key is None or key.decode(errors="replace") != attrs["ce_subject"]:
        raise ContractViolation("the record key is not its ce_subject (the ticket id)")
    if topic == TICKET_EVENTS.name:
        try:
            envelope = from_kafka(key, value, headers)
        except DecodeError as exc:
            raise ContractViolation(f"not a valid ticket event: {exc}") from None
        payload: dict[str, Any] = envelope.model_dump(mode="json")
    else:
        model = RECORD_MODELS.get(topic)
        if model is None:
            raise ContractViolation(f"{topic} is not a published topic")
        try:
            payload = model.model_validate_json(value or b"").model_dump(mode="json")
        except ValueError as exc:
            raise ContractViolation(f"value does not match {model.__name__}: {exc}") from None
        if str(payload["id"]) != attrs["ce_id"] or payload["type"] != attrs["ce_type"]:
            raise ContractViolation("ce_id / ce_type differ from the value's id / type")
    return {
        "topic": topic,
        "attributes": attrs,
        "payload": payload,
        "value": orjson.loads(value or b"{}"),
    }


async def tail(
    bootstrap: str,
    topics: Sequence[str],
    *,
    from_beginning: bool,
    idle_timeout_s: float,
    max_records: int | None = None,
    client_kwargs: dict[str, Any] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Records of `topics` in arrival order, each once (by ce_id), until none came for
    `idle_timeout_s` or `max_records` were yielded. A record that breaks the contract is
    yielded as `{"topic", "partition", "offset", "violation"}` instead of stopping the
    reader. Reads without a consumer group: it commits nothing."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **(client_kwargs or {}),
    )
    await consumer.start()
    seen = Deduplicator()
    count = 0
    try:
        while max_records is None or count < max_records:
            batch = await consumer.getmany(timeout_ms=int(idle_timeout_s * 1000))
            if not batch:
                return
            for messages in batch.values():
                for message in messages:
                    where = {
                        "topic": message.topic,
                        "partition": message.partition,
                        "offset": message.offset,
                    }
                    try:
                        record = read_record(
                            message.topic, message.key, message.value, list(message.headers)
                        )
                    except ContractViolation as exc:
                        yield {**where, "violation": str(exc)}
                        continue
                    if not seen.first_time(record["attributes"]["ce_id"]):
                        continue
                    yield {**where, **record}
                    count += 1
    finally:
        await consumer.stop()


def dumps(record: dict[str, Any]) -> str:
    return orjson.dumps(record).decode()
