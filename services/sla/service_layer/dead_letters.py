"""A record that cannot be processed, as the record that sends it to `<topic>.dlq`."""

from __future__ import annotations

import logging

from services.common.dead_letters import dlq_headers
from services.sla.adapters.messages import RawMessage
from services.sla.domain.records import OutRecord

log = logging.getLogger("ticketflow.sla")

DLQ_MAX_VALUE = 512 * 1024
DLQ_MAX_KEY = 1024


def dead_letter(message: RawMessage, error: str, reason: str) -> OutRecord:
    """The original record to `<topic>.dlq`, with the error and where it came from in headers.

    A value too large to go out again beside the headers (the producer refuses a request over
    1 MiB, and a refused dead letter would be retried forever) is cut to DLQ_MAX_VALUE bytes,
    its full size in `dlq_truncated_from`; the source offset still finds the original."""
    headers = dlq_headers(message, error, reason, "sla")
    value = message.value or b""
    if len(value) > DLQ_MAX_VALUE:
        headers.append(("dlq_truncated_from", str(len(value)).encode()))
        value = value[:DLQ_MAX_VALUE]
    log.error(
        "dead-lettered %s[%d]@%d (%s): %s",
        message.topic,
        message.partition,
        message.offset,
        reason,
        error[:300],
    )
    return OutRecord(f"{message.topic}.dlq", (message.key or b"")[:DLQ_MAX_KEY], value, headers)
