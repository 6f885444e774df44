"""Distributed tracing: one trace follows a ticket event through every hop (intake's HTTP
request, the event store, the outbox relay, the SLA worker, escalation, notify and the email
or webhook it sends), carried on every Kafka record as the CloudEvents distributed-tracing
extension (`ce_traceparent`, `ce_tracestate`: W3C trace context) and on every stored event
as its envelope's `traceparent`.

Spans are exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the standard
OpenTelemetry variables configure the exporter), and not at all otherwise: then no span is
recorded and `enabled()` is false, so the hot paths skip even the span objects, while a
trace context that came in is still passed on unchanged (a service without an exporter does
not break a trace that runs through it).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger("ticketflow.tracing")

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
TRACESTATE_MAX = 512
HEADER_PARENT = "ce_traceparent"
HEADER_STATE = "ce_tracestate"
_PROPAGATOR = TraceContextTextMapPropagator()
_state: dict[str, Any] = {"enabled": False, "service": None, "provider": None}

__all__ = [
    "SpanKind",
    "configure",
    "context_of",
    "current",
    "enabled",
    "header_context",
    "kafka_headers",
    "link_to",
    "shutdown",
    "span",
]


def enabled() -> bool:
    """Whether spans are recorded and exported (an OTLP endpoint is configured)."""
    return bool(_state["enabled"])


def configure(service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Set up the exporter for `service` (`ticketflow-<service>` in the traces) when an OTLP
    endpoint is configured; once per process. Returns whether tracing is on."""
    env = os.environ if environ is None else environ
    if _state["provider"] is not None:
        return True
    if not env.get(ENDPOINT_VARIABLE):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": f"ticketflow-{service}"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _state.update(enabled=True, service=service, provider=provider)
    atexit.register(shutdown)
    log.info("tracing: exporting spans of %s over OTLP to %s", service, env[ENDPOINT_VARIABLE])
    return True


def shutdown() -> None:
    """Flush and stop the exporter (on a graceful stop; also at exit)."""
    provider = _state["provider"]
    if provider is not None:
        provider.shutdown()
        _state.update(enabled=False, provider=None)


def _tracer() -> trace.Tracer:
    return trace.get_tracer("ticketflow")


def valid_traceparent(value: str | None) -> str | None:
    """`value` if it is a well-formed W3C traceparent (version 00 or later), else None."""
    if value is None or not TRACEPARENT.match(value) or value.startswith("ff"):
        return None
    return value


def context_of(
    traceparent: str | None, tracestate: str | None = None
) -> otel_context.Context | None:
    """The trace context a traceparent (and tracestate) names; None when there is none."""
    parent = valid_traceparent(traceparent)
    if parent is None:
        return None
    carrier = {"traceparent": parent}
    if tracestate and len(tracestate) <= TRACESTATE_MAX:
        carrier["tracestate"] = tracestate
    found = _PROPAGATOR.extract(carrier)
    if not trace.get_current_span(found).get_span_context().is_valid:
        return None
    return found


def _text(raw: str | bytes) -> str | None:
    if isinstance(raw, bytes):
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            return None
    return raw


def header_context(headers: Iterable[tuple[str, Any]] | None) -> otel_context.Context | None:
    """The trace context of a Kafka record's `ce_traceparent`/`ce_tracestate` headers."""
    parent = state = None
    for name, raw in headers or ():
        if name == HEADER_PARENT:
            parent = _text(raw)
        elif name == HEADER_STATE:
            state = _text(raw)
    return context_of(parent, state)


def current() -> dict[str, str]:
    """The current trace context as W3C fields (`traceparent`, and `tracestate` if any);
    empty when there is no valid one."""
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        _PROPAGATOR.inject(carrier)
    return carrier


def kafka_headers() -> list[tuple[str, bytes]]:
    """`ce_traceparent` (and `ce_tracestate`) of the current trace context, for a record."""
    return [(f"ce_{name}", value.encode()) for name, value in current().items()]


def link_to(traceparent: str | None) -> list[Link]:
    """A link to the span a traceparent names (a timer's span links to the event that set
    the timer), or none."""
    found = context_of(traceparent)
    if found is None:
        return []
    return [Link(trace.get_current_span(found).get_span_context())]


@contextmanager
def span(
    name: str,
    *,
    parent: otel_context.Context | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
    links: list[Link] | None = None,
) -> Iterator[Span]:
    """A span named `name`, a child of `parent` (else of the current span), current inside
    the block; an exception escaping the block marks it failed. When tracing is off and a
    parent is given, that parent stays current, so what the block publishes carries it on."""
    if not enabled():
        token = otel_context.attach(parent) if parent is not None else None
        try:
            yield trace.get_current_span()
        finally:
            if token is not None:
                otel_context.detach(token)
        return
    attrs = {key: value for key, value in (attributes or {}).items() if value is not None}
    with _tracer().start_as_current_span(
        name,
        context=parent,
        kind=kind,
        attributes=attrs,
        links=links,
        record_exception=True,
        set_status_on_exception=True,
    ) as current_span:
        yield current_span


def failed(current_span: Span, reason: str) -> None:
    """Mark `current_span` failed with `reason` (an outcome that is not an exception)."""
    if current_span.is_recording():
        current_span.set_status(Status(StatusCode.ERROR, reason))
