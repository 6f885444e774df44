"""Dead-letter publishing: a bad message goes to `<topic>.dlq` with why and where it came from."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

DEAD_LETTERS = Counter(
    "ticketflow_dead_letters_total", "Messages sent to a dead-letter topic", ["topic", "reason"]
)


def dlq_headers(message: Any, error: str, reason: str, service: str) -> list[tuple[str, bytes]]:
    """The record's own headers plus who dead-lettered it, why, and where it came from (every
    service writes the same names: `dlq_service`, `dlq_error`, `dlq_reason`,
    `dlq_source_topic`, `dlq_source_partition`, `dlq_source_offset`)."""
    return [
        *(message.headers or ()),
        ("dlq_service", service.encode()),
        ("dlq_error", error[:2000].encode()),
        ("dlq_reason", reason.encode()),
        ("dlq_source_topic", message.topic.encode()),
        ("dlq_source_partition", str(message.partition).encode()),
        ("dlq_source_offset", str(message.offset).encode()),
    ]


async def dead_letter(
    producer: Any, message: Any, error: str, reason: str, *, service: str
) -> None:
    """Copy `message` to its topic's DLQ, keeping key, value and headers, adding the error
    and the name of the `service` that gave up on it."""
    headers = dlq_headers(message, error, reason, service)
    await producer.send_and_wait(
        f"{message.topic}.dlq", message.value, key=message.key, headers=headers
    )
    DEAD_LETTERS.labels(message.topic, reason).inc()
