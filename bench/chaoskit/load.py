"""Steady load over loopback HTTP to intake: critical tickets whose deadlines fall during the
run (some answered just before the deadline, some never, some logged late with an on-time
response, some answered after it) and background tickets with comments.

Every request is recorded with its outcome; what was *accepted* (a 201) is what the invariants
hold intake to. Each stream is bounded by the load's end time and a total request cap."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

# voximplant sev1 on the silver plan: first response within 2 h, around the clock.
CRITICAL_TARGET = timedelta(hours=2)
CRITICAL_ACCOUNT = "demo-voximplant"
CATEGORIES = ("unanswered", "answered_in_time", "late_logged", "answered_late")


@dataclass(frozen=True)
class LoadShape:
    seconds: float
    """The longest the load may run, wind-down included."""
    critical_per_s: float = 2.0
    background_per_s: float = 1.0
    comments_per_s: float = 20.0
    lead_s: tuple[float, float] = (5.0, 12.0)
    """How far in the future a critical ticket's deadline is when it is opened."""
    answer_before_s: tuple[float, float] = (1.0, 3.0)
    answer_after_s: tuple[float, float] = (1.0, 3.0)
    weights: tuple[float, ...] = (0.40, 0.35, 0.10, 0.15)
    concurrency: int = 24
    max_requests: int = 40_000
    timeout_s: float = 5.0


@dataclass
class Request:
    """One HTTP request to intake and what came of it (wall-clock seconds)."""

    kind: str  # open | append
    event_type: str
    category: str
    sent_at: float
    """When it went out (after waiting for a free connection: `queued_at`)."""
    done_at: float = 0.0
    status: int | None = None
    error: str | None = None
    ticket_id: str | None = None
    version: int | None = None
    event_id: str | None = None
    occurred_at: str | None = None
    queued_at: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.status == 201 and self.ticket_id is not None and self.version is not None


@dataclass
class LoadLog:
    requests: list[Request] = field(default_factory=list)
    critical: dict[str, str] = field(default_factory=dict)
    """ticket id -> planned category (the store decides what actually happened)."""
    background: list[str] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0

    def accepted(self) -> list[Request]:
        return [r for r in self.requests if r.accepted]


class Load:
    def __init__(
        self,
        intake_url: str,
        accounts: dict[str, dict[str, Any]],
        shape: LoadShape,
        rng: random.Random,
        stop: asyncio.Event,
    ) -> None:
        self._url = intake_url
        self._accounts = accounts
        self._shape = shape
        self._rng = rng
        self._stop = stop
        self.log = LoadLog()
        self._gate = asyncio.Semaphore(shape.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._background_account: dict[str, str] = {}

    def _budget_left(self) -> bool:
        return len(self.log.requests) < self._shape.max_requests and not self._stop.is_set()

    async def _post(
        self, http: httpx.AsyncClient, path: str, account: str, body: dict[str, Any], req: Request
    ) -> dict[str, Any] | None:
        self.log.requests.append(req)
        key = self._accounts[account]["api_key"]
        req.queued_at = time.time()
        async with self._gate:
            req.sent_at = time.time()
            try:
                answer = await http.post(
                    f"{self._url}{path}",
                    json=body,
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=self._shape.timeout_s,
                )
            except httpx.HTTPError as exc:
                req.done_at = time.time()
                req.error = type(exc).__name__
                return None
            req.done_at = time.time()
        req.status = answer.status_code
        if answer.status_code != 201:
            req.error = answer.text[:200]
            return None
        try:
            parsed: dict[str, Any] = answer.json()
        except ValueError:
            req.error = "201 without JSON"
            return None
        return parsed

    async def _open(
        self,
        http: httpx.AsyncClient,
        account: str,
        category: str,
        priority: str,
        channel: str,
        occurred_at: datetime | None,
    ) -> str | None:
        info = self._accounts[account]
        body: dict[str, Any] = {
            "account": account,
            "contact": info["contact"],
            "channel": channel,
            "priority": priority,
            "subject": f"chaos {category}",
        }
        if occurred_at is not None:
            body["occurred_at"] = occurred_at.isoformat()
        req = Request(
            "open", "ticket.opened", category, time.time(), occurred_at=body.get("occurred_at")
        )
        created = await self._post(http, "/v1/tickets", account, body, req)
        if created is None:
            return None
        req.ticket_id = str(created["ticket_id"])
        req.version = int(created.get("version", 1))
        return req.ticket_id

    async def _append(
        self,
        http: httpx.AsyncClient,
        account: str,
        ticket_id: str,
        event_type: str,
        category: str,
        data: dict[str, Any],
        occurred_at: datetime | None,
    ) -> None:
        body: dict[str, Any] = {"type": event_type, "data": data}
        if occurred_at is not None:
            body["occurred_at"] = occurred_at.isoformat()
        req = Request(
            "append",
            event_type,
            category,
            time.time(),
            ticket_id=ticket_id,
            occurred_at=body.get("occurred_at"),
        )
        appended = await self._post(http, f"/v1/tickets/{ticket_id}/events", account, body, req)
        if appended is not None:
            req.version = int(appended["version"])
            req.event_id = str(appended["event_id"])

    async def _sleep_until(self, wall: float) -> bool:
        """Sleep until wall-clock `wall`; False when the load was stopped meanwhile."""
        delay = wall - time.time()
        if delay <= 0:
            return not self._stop.is_set()
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=delay)
        except TimeoutError:
            return True
        return False

    async def _critical(self, http: httpx.AsyncClient, category: str) -> None:
        shape, rng = self._shape, self._rng
        now = datetime.now(UTC)
        if category == "late_logged":
            # Logged long after the fact, with the response that was given on time.
            opened_at = now - CRITICAL_TARGET - timedelta(seconds=rng.uniform(30, 120))
        else:
            opened_at = now - CRITICAL_TARGET + timedelta(seconds=rng.uniform(*shape.lead_s))
        deadline = opened_at + CRITICAL_TARGET
        ticket = await self._open(http, CRITICAL_ACCOUNT, category, "sev1", "web", opened_at)
        if ticket is None:
            return
        self.log.critical[ticket] = category
        respond: dict[str, Any] = {"by": "chaos"}
        if category == "late_logged":
            at = opened_at + timedelta(minutes=5)
            await self._append(
                http, CRITICAL_ACCOUNT, ticket, "ticket.responded", category, respond, at
            )
        elif category == "answered_in_time":
            when = deadline.timestamp() - rng.uniform(*shape.answer_before_s)
            if await self._sleep_until(when):
                at = datetime.now(UTC) - timedelta(milliseconds=20)
                await self._append(
                    http, CRITICAL_ACCOUNT, ticket, "ticket.responded", category, respond, at
                )
        elif category == "answered_late":
            when = deadline.timestamp() + rng.uniform(*shape.answer_after_s)
            if await self._sleep_until(when):
                at = datetime.now(UTC) - timedelta(milliseconds=20)
                await self._append(
                    http, CRITICAL_ACCOUNT, ticket, "ticket.responded", category, respond, at
                )

    async def _background(self, http: httpx.AsyncClient) -> None:
        if self._rng.random() < 0.5:
            account, priority, channel = CRITICAL_ACCOUNT, "sev3", "web"
        else:
            account, priority, channel = "demo-hosted-voice", "p2", "email"
        ticket = await self._open(http, account, "background", priority, channel, None)
        if ticket is not None:
            self.log.background.append(ticket)
            self._background_account[ticket] = account

    async def _comment(self, http: httpx.AsyncClient, n: int) -> None:
        if not self.log.background:
            return
        ticket = self._rng.choice(self.log.background)
        account = self._background_account[ticket]
        data = {"body": f"chaos comment {n}", "public": False}
        await self._append(http, account, ticket, "ticket.comment_added", "background", data, None)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stream(self, per_s: float, start: Any, running: Any) -> None:
        """Call `start(n)` every 1/per_s seconds while `running()` holds."""
        if per_s <= 0:
            return
        period = 1.0 / per_s
        n = 0
        next_at = time.time()
        while running() and self._budget_left():
            start(n)
            n += 1
            next_at += period
            if not await self._sleep_until(next_at):
                return

    async def run(self, wind_down: asyncio.Event) -> LoadLog:
        """Until `wind_down` (or `max_s`): then no new critical ticket, and the rest of the load
        goes on until the last critical ticket's deadline and late answer have passed."""
        shape = self._shape
        self.log.started_at = time.time()
        hard_end = self.log.started_at + shape.seconds
        tail = shape.lead_s[1] + shape.answer_after_s[1] + 1.0
        ends: list[float] = []

        def critical_running() -> bool:
            if wind_down.is_set() or time.time() >= hard_end - tail:
                if not ends:
                    ends.append(time.time() + tail)
                return False
            return True

        def rest_running() -> bool:
            critical_running()
            return not ends or time.time() < ends[0]

        limits = httpx.Limits(max_connections=shape.concurrency, max_keepalive_connections=8)
        async with httpx.AsyncClient(limits=limits, trust_env=False) as http:

            def critical(_n: int) -> None:
                category = self._rng.choices(CATEGORIES, weights=shape.weights)[0]
                self._spawn(self._critical(http, category))

            def background(_n: int) -> None:
                self._spawn(self._background(http))

            def comment(n: int) -> None:
                self._spawn(self._comment(http, n))

            await asyncio.gather(
                self._stream(shape.critical_per_s, critical, critical_running),
                self._stream(shape.background_per_s, background, rest_running),
                self._stream(shape.comments_per_s, comment, rest_running),
            )
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=tail + shape.timeout_s + 5)
            for task in list(self._tasks):
                task.cancel()
        self.log.ended_at = time.time()
        return self.log
