"""Logs: one JSON object a line in production (`TICKETFLOW_LOG_FORMAT=json`, the default when
`TICKETFLOW_ENVIRONMENT=production`), readable lines otherwise (`ticketflow dev`).

Every line carries the service's name; a line logged while a ticket's record or request is
handled carries its `ticket_id`, `event_id` and `trace_id` too (`about(...)` binds them for
the duration of the handling, in a context variable, so every logger called inside gets them
without passing them along). The trace id is the current span's when tracing exports, else
the one the record or request brought (its `traceparent`): logs correlate with traces either
way. Secrets are scrubbed from every line: API keys (`tf_...`), bearer tokens, passwords in
URLs and `password=` pairs."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from services.common import tracing

_BOUND: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("ticketflow_log_bound")
FIELDS = ("ticket_id", "event_id")
READABLE = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_SECRETS = (
    (re.compile(r"\btf_[A-Za-z0-9_\-]{8,}"), "tf_***"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 ***"),
    # scheme://user:password@host (an empty user too; the password may hold an '@')
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^\s/]*@"), r"\1***@"),
    # password=..., DB_PASSWORD: ..., "client_secret": "...", access_token=...
    (
        re.compile(
            r"(?i)([a-z0-9_\-]*(?:password|passwd|secret|token)[\"']?\s*[=:]\s*[\"']?)"
            r"([^\s\"'&,;]+)"
        ),
        r"\1***",
    ),
)
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def scrub(text: str) -> str:
    """`text` with every secret it holds replaced by `***`."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def trace_id_of(traceparent: str | None) -> str | None:
    found = _TRACEPARENT.match(traceparent or "")
    return found.group(1) if found else None


@contextlib.contextmanager
def about(
    *, ticket_id: str | None = None, event_id: str | None = None, traceparent: str | None = None
) -> Iterator[None]:
    """Lines logged inside carry these (the ones given; the outer ones stay otherwise)."""
    bound = dict(_BOUND.get({}))
    for key, value in (("ticket_id", ticket_id), ("event_id", event_id)):
        if value:
            bound[key] = value
    trace_id = trace_id_of(traceparent)
    if trace_id:
        bound["trace_id"] = trace_id
    token = _BOUND.set(bound)
    try:
        yield
    finally:
        _BOUND.reset(token)


def bound() -> dict[str, str]:
    """What lines logged now carry: the bound ids, the current span's trace id first."""
    found = dict(_BOUND.get({}))
    current = trace_id_of(tracing.current().get("traceparent"))
    if current:
        found["trace_id"] = current
    return found


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (UTC, ISO 8601), level, service, logger, message,
    the bound ids, `error` with the traceback when there is one."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        line.update(bound())
        for key in FIELDS:  # passed as `extra=` on the call
            value = getattr(record, key, None)
            if value is not None:
                line[key] = str(value)
        if record.exc_info:
            line["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class ReadableFormatter(logging.Formatter):
    """The usual line, the bound ids at its end (`ticket_id=... trace_id=...`), scrubbed."""

    def __init__(self, service: str) -> None:
        super().__init__(READABLE)
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(f"{key}={value}" for key, value in bound().items())
        return scrub(f"{text} [{self._service}{' ' + ids if ids else ''}]")


def json_wanted(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    chosen = env.get("TICKETFLOW_LOG_FORMAT", "").strip().lower()
    if chosen in ("json", "text"):
        return chosen == "json"
    return env.get("TICKETFLOW_ENVIRONMENT", "").strip().lower() == "production"


def formatter(service: str, json_logs: bool | None = None) -> logging.Formatter:
    use_json = json_wanted() if json_logs is None else json_logs
    return JsonFormatter(service) if use_json else ReadableFormatter(service)


def configure(service: str, level: int = logging.INFO, json_logs: bool | None = None) -> None:
    """The root logger writes to stderr in the service's format (replacing its handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(service, json_logs))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def dict_config(service: str, level: str = "INFO") -> dict[str, Any]:
    """The same as `configure`, as a `logging.config.dictConfig` (for Faust's worker, which
    sets up logging itself)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "ticketflow": {"()": f"{__name__}.formatter", "service": service},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "ticketflow",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }
