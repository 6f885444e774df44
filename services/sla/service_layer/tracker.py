"""`SlaTracker`: one worker's SLA use cases bound to its ports and state, the one object the
Faust entrypoints and the HTTP pages talk to. Each method is a use case of its own module."""

from __future__ import annotations

from collections.abc import Iterable

from services.sla.adapters.messages import RawMessage
from services.sla.service_layer import assignment, deadlines, ingest, reconcile
from services.sla.service_layer.commit import Batch
from services.sla.service_layer.repair import repair_gaps
from services.sla.service_layer.worker import Worker


class SlaTracker(Worker):
    # --- ticket events (`ingest`)
    async def handle_batch(self, messages: list[RawMessage]) -> None:
        await ingest.handle_batch(self, messages, self._handle)

    async def handle_batch_isolated(self, messages: list[RawMessage]) -> None:
        await ingest.handle_batch_isolated(self, messages, self.handle_batch)

    def _handle(self, message: RawMessage, batch: Batch) -> str:
        return ingest.handle_message(self, message, batch)

    async def repair_gaps(self) -> None:
        await repair_gaps(self)

    # --- deadlines (`deadlines`)
    async def run_timers(self) -> None:
        await deadlines.run_timers(self)

    async def fire_due_timers(self) -> int:
        return await deadlines.fire_due_timers(self)

    def timers_stuck(self, limit_s: float = deadlines.TIMERS_STUCK_S) -> bool:
        return deadlines.timers_stuck(self, limit_s)

    # --- rebalancing (`assignment`, `reconcile`)
    def partitions_revoked(self, partitions: Iterable[int]) -> None:
        assignment.partitions_revoked(self, partitions)

    def state_recovered(self, partitions: Iterable[int]) -> None:
        assignment.state_recovered(self, partitions)

    def start_reconciliation(self) -> None:
        assignment.start_reconciliation(self)

    def stop_reconciliation(self) -> None:
        assignment.stop_reconciliation(self)

    async def reconcile(self) -> None:
        await reconcile.reconcile(self)
