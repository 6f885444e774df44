"""Baseline for bench/sla_service.py: a bare Faust agent that only decodes the ticket events
(the same CloudEvents decoding the SLA service does) and counts them. Run by the benchmark as
its own process: python bench/faust_decode_agent.py BOOTSTRAP PORT APP_ID"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import faust

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.sla.adapters import faust_transport  # noqa: E402
from shared.events.codec import from_kafka  # noqa: E402
from shared.topics import TICKET_EVENTS  # noqa: E402


def main() -> None:
    bootstrap, port, app_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    # The same transport as the SLA service (Faust's, with a shorter fetch long-poll).
    scheme = faust_transport.register()
    app = faust.App(
        app_id,
        broker=f"{scheme}://{bootstrap}",
        store="memory://",
        autodiscover=False,
        datadir=f"/tmp/{app_id}",
        web_port=port,
        web_bind="127.0.0.1",
        broker_session_timeout=10,
        broker_heartbeat_interval=2,
        consumer_auto_offset_reset="earliest",
    )
    topic = app.topic(TICKET_EVENTS.name, key_type=bytes, value_type=bytes)
    seen = {"count": 0, "first": 0.0, "last": 0.0, "latencies": []}

    @app.agent(topic)
    async def decode(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            envelope = from_kafka(message.key, message.value, message.headers)
            now = time.time()
            recorded = envelope.recorded_at
            if not seen["count"]:
                seen["first"] = now
            seen["count"] += 1
            seen["last"] = now
            if recorded is not None:
                seen["latencies"].append((recorded.timestamp(), now - recorded.timestamp()))

    @app.page("/count")
    async def count(view: Any, request: Any) -> Any:
        return view.web.json(seen)

    worker = faust.Worker(app, loglevel="warning", quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
