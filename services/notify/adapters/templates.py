"""Jinja2 templates per notification (package files `templates/<name>.txt.j2`), overridable per
account. A template's first line is `Subject: ...`, the rest is the plain-text body.

Account templates are untrusted code. They run in Jinja's immutable sandbox (no Python
internals, no change to lists/dicts/sets), in worker processes (`render_pool`) with a CPU-time
budget, a memory limit and output caps, and they see a JSON copy of the context: nothing they do
reaches the event the webhook and the other notifications are built from. `validate` renders an
override against sample contexts before it is stored; at send time an override that fails falls
back to the default template, counted and logged, so no notification is lost to a template.
Default templates are trusted and rendered in-process, from the same kind of copy."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from importlib import resources
from typing import Any

import orjson
from jinja2 import TemplateSyntaxError
from prometheus_client import Counter

from services.notify.adapters.render_pool import WorkerFailed, WorkerPool, WorkerTimeout
from services.notify.adapters.render_sandbox import RenderFailure, render_template, sandbox
from services.notify.domain.template_samples import sample_context
from services.notify.domain.templating import Rendered, TemplateError

log = logging.getLogger("ticketflow.notify")
FAILURES = Counter(
    "ticketflow_notify_template_failures_total",
    "Templates that failed at send time (account overrides fall back to the default)",
    ["template", "reason"],
)


def _split(source: str) -> tuple[str, str]:
    first, _, rest = source.partition("\n")
    if not first.startswith("Subject:"):
        raise TemplateError("a template starts with a `Subject: ...` line")
    return first.removeprefix("Subject:").strip(), rest


def _from_failure(failure: RenderFailure) -> TemplateError:
    return TemplateError(str(failure), failure.reason, failure.part)


def _plain(name: str, context: Mapping[str, Any]) -> Rendered:
    """The last resort when even the default template fails: no template code at all."""
    ticket = context.get("ticket")
    event = context.get("event")
    number = ticket.get("number") if isinstance(ticket, dict) else None
    if not number and isinstance(event, dict):
        number = event.get("ticket_id") or event.get("subject")
    label = name.replace("_", " ")
    subject = f"[{number}] {label}" if number else label
    return Rendered(subject, f"Notification: {label} (ticket {number or 'unknown'}).\n")


def _copy(context: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round trip: plain data only, sharing nothing with the caller's objects."""
    try:
        copied: dict[str, Any] = orjson.loads(orjson.dumps(context, default=str))
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits
        copied = json.loads(json.dumps(context, default=str))
    return copied


class Templates:
    def __init__(
        self,
        *,
        budget_s: float = 1.0,
        subject_chars: int = 250,
        body_chars: int = 65_536,
        workers: int = 2,
        memory_mb: int = 256,
        wall_timeout_s: float | None = None,
    ) -> None:
        """`budget_s`: CPU time an account template may use per rendering (subject and body
        together). `wall_timeout_s`: when a worker that has not answered is killed (default
        twice `budget_s` plus one second: on a busy machine a worker gets less than a core).
        `workers`: processes rendering account templates at once; `memory_mb`: the
        address-space cap of each."""
        self._budget_s = budget_s
        self._subject_chars = subject_chars
        self._body_chars = body_chars
        self._wall_timeout_s = wall_timeout_s or budget_s * 2 + 1.0
        self._pool = WorkerPool(workers, memory_mb=memory_mb)
        self._strict = sandbox(strict=True)
        self._lenient = sandbox(strict=False)
        folder = resources.files("services.notify").joinpath("templates")
        self._defaults = {
            entry.name.removesuffix(".txt.j2"): _split(entry.read_text(encoding="utf-8"))
            for entry in folder.iterdir()
            if entry.name.endswith(".txt.j2")
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._defaults)

    def default(self, name: str) -> tuple[str, str]:
        """The package template `name` as (subject, body) sources."""
        return self._defaults[name]

    def check(self, subject: str, body: str) -> None:
        """Raise `TemplateError` (with the line) if an override does not compile. Compiling
        only: `validate` is the check to run before storing an override."""
        for part, text in (("subject", subject), ("body", body)):
            try:
                self._strict.from_string(text)
            except TemplateSyntaxError as exc:
                message = f"{part}, line {exc.lineno}: {exc.message}"
                raise TemplateError(message, "syntax", part) from None

    async def validate(self, name: str, subject: str, body: str) -> None:
        """Compile and render an override of template `name` against its sample contexts,
        within the budget and caps; raise `TemplateError` naming the part and the problem."""
        try:
            complete, sparse = sample_context(name), sample_context(name, complete=False)
        except KeyError:
            raise TemplateError(f"no template {name!r}", "unknown") from None
        await self._render_untrusted(subject, body, complete, strict=True)
        try:
            await self._render_untrusted(subject, body, sparse, strict=False)
        except TemplateError as exc:
            if exc.reason in {"undefined", "error"}:
                message = f"{exc} (with the optional fields unset)"
                raise TemplateError(message, exc.reason, exc.part) from None
            raise

    async def render(
        self, name: str, context: Mapping[str, Any], override: tuple[str, str] | None = None
    ) -> Rendered:
        """Render template `name` (the account's `override` when given) from a copy of
        `context`. Never raises for a bad template: a failing override falls back to the
        default, a failing default to a plain message."""
        copied = _copy(context)
        if override is not None:
            try:
                return await self._render_untrusted(*override, copied, strict=False)
            except TemplateError as exc:
                FAILURES.labels(name, exc.reason).inc()
                log.warning(
                    "account %s: template %s failed in its %s (%s); sent with the default",
                    copied.get("account"),
                    name,
                    exc.part,
                    exc.reason,
                )
        default = self._defaults.get(name)
        if default is None:
            return _plain(name, copied)
        try:
            subject, body = render_template(
                self._lenient,
                *default,
                copied,
                subject_chars=self._subject_chars,
                body_chars=self._body_chars,
            )
        except RenderFailure as failure:
            FAILURES.labels(name, f"default_{failure.reason}").inc()
            log.error(
                "account %s: default template %s failed in its %s (%s); sent as plain text",
                copied.get("account"),
                name,
                failure.part,
                failure.reason,
            )
            return _plain(name, copied)
        return Rendered(subject, body)

    async def _render_untrusted(
        self, subject: str, body: str, context: Mapping[str, Any], *, strict: bool
    ) -> Rendered:
        job = {
            "subject": subject,
            "body": body,
            "context": context,
            "strict": strict,
            "budget_s": self._budget_s,
            "subject_chars": self._subject_chars,
            "body_chars": self._body_chars,
        }
        try:
            reply = await self._pool.run(job, self._wall_timeout_s)
        except WorkerTimeout:
            message = f"template: exceeded the {float(self._budget_s)} s time budget"
            raise TemplateError(message, "time_budget") from None
        except WorkerFailed as exc:
            raise TemplateError(f"template: {exc}", "unavailable") from None
        failure = reply.get("failure")
        if isinstance(failure, dict):
            raise _from_failure(RenderFailure(**failure))
        rendered_subject, rendered_body = reply.get("subject"), reply.get("body")
        if not isinstance(rendered_subject, str) or not isinstance(rendered_body, str):
            raise TemplateError(
                "template: the worker's reply has no subject and body", "unavailable"
            )
        return Rendered(rendered_subject, rendered_body)

    async def aclose(self) -> None:
        """Stop the template workers."""
        await self._pool.aclose()
