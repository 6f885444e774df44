"""Which produce failures are about the record itself (the broker will never take it) and
which are about the broker or the network (retry with backoff).

Only the record-specific ones are quarantined. aiokafka also marks authorization, timeout
and broker-availability errors "not retriable"; those refuse every record alike, and
quarantining on them would empty the outbox into quarantine during an outage."""

from __future__ import annotations

from aiokafka import errors

RECORD_REFUSED: tuple[type[Exception], ...] = (
    errors.MessageSizeTooLargeError,  # over the producer's max_request_size or the broker's max
    errors.RecordListTooLargeError,
    errors.RecordTooLargeError,
    errors.CorruptRecordException,
    errors.InvalidMessageError,
    errors.InvalidTimestampError,
    errors.UnsupportedForMessageFormatError,
)

# A stored envelope that cannot be turned into a Kafka record at all.
UNENCODABLE: tuple[type[Exception], ...] = (ValueError, TypeError, KeyError)


def refuses_record(error: BaseException) -> bool:
    """True when sending this record again can never succeed."""
    return isinstance(error, RECORD_REFUSED)


def describe(error: BaseException) -> tuple[str, str]:
    """(error type, message) as stored in the quarantine."""
    return type(error).__name__, str(error) or repr(error)
