"""One trace per ticket event across every hop: `ticketflow dev` with an OTLP endpoint set
exports its spans to a real OTLP/HTTP receiver run by this test; one `POST /v1/tickets` of a
ticket that breaches gives a single trace with spans from intake (the request, the store,
the relay's publish), the SLA worker (the event, and the timer that fired the breach),
escalation, notify and the email sent."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.e2e.test_dev_stack import _start, breach_is_escalated_and_emailed_within_5_s

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    links: tuple[str, ...]


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver (protobuf), keeping every span it was sent."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource in request.resource_spans:
            attrs = {a.key: a.value.string_value for a in resource.resource.attributes}
            service = attrs.get("service.name", "")
            for scope in resource.scope_spans:
                for span in scope.spans:
                    found.append(
                        ReceivedSpan(
                            service,
                            span.name,
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            {a.key: _value(a.value) for a in span.attributes},
                            tuple(link.trace_id.hex() for link in span.links),
                        )
                    )
        with self.lock:
            self.spans.extend(found)

    def of_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self.lock:
            return [span for span in self.spans if span.trace_id == trace_id]


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    kept = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path == "/v1/traces":
                kept.take(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield kept, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


SERVICES = ("intake", "sla", "escalation", "notify")


def test_one_post_of_a_breaching_ticket_is_one_trace_through_every_service(
    tmp_path: Path, receiver: tuple[Receiver, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, endpoint = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    var_dir = tmp_path / "var"
    proc, stack, _ = _start(var_dir)
    try:
        account = {a["account"]: a for a in stack["demo_accounts"]}["demo-voximplant"]
        ticket = breach_is_escalated_and_emailed_within_5_s(
            stack, account, var_dir, {"traceparent": traceparent}
        )
        give_up = time.monotonic() + 30
        spans: list[ReceivedSpan] = []
        while time.monotonic() < give_up:
            spans = kept.of_trace(trace_id)
            if _complete(spans):
                break
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(30)
    by_service = {service: [s for s in spans if s.service == f"ticketflow-{service}"]
                  for service in SERVICES}  # fmt: skip
    names = sorted({f"{s.service}: {s.name}" for s in spans})
    for service in SERVICES:
        assert by_service[service], (service, names)
    assert any(s.name == "POST /v1/tickets" for s in by_service["intake"]), names
    assert any(s.name == "event_store open_ticket" for s in by_service["intake"]), names
    assert any(s.name.endswith("ticket-events publish") for s in by_service["intake"]), names
    fired = [s for s in by_service["sla"] if s.name == "sla timer fired"]
    assert fired and any(
        "sla.breached" in str(s.attributes.get("ticketflow.emitted")) for s in fired
    )
    assert all(trace_id in s.links for s in fired)  # linked to the event that set the timer
    sent = [s for s in by_service["notify"] if s.name == "notify send email"]
    assert sent, names
    # Every span but the client's root has its parent in the trace: nothing started afresh.
    ids = {s.span_id for s in spans}
    orphans = [s for s in spans if s.parent_id not in ids and s.parent_id != traceparent[36:52]]
    assert not orphans, [f"{s.service}: {s.name}" for s in orphans]
    # Nothing about this ticket went into another trace.
    elsewhere = {
        s.trace_id
        for s in kept.spans
        if s.attributes.get("ticketflow.ticket_id") == ticket and s.trace_id != trace_id
    }
    assert not elsewhere


def _complete(spans: list[ReceivedSpan]) -> bool:
    """Every service's spans, the breach's timer, and the three emails (receipt, warning,
    escalation page) sent."""
    services = {s.service for s in spans}
    return (
        all(f"ticketflow-{name}" in services for name in SERVICES)
        and any(s.name == "sla timer fired" for s in spans)
        and sum(1 for s in spans if s.name == "notify send email") >= 3
    )
