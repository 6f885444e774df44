"""Renders one template part (subject or body) in Jinja's immutable sandbox with bounded output.

The sandbox refuses Python internals and any change to the context's lists, dicts and sets
(`event.update(...)` is a `SecurityError`); `*` and `**` are checked before they run, so one
expression cannot build a gigabyte string or a million-digit number in C code that no time
budget could interrupt. Output is consumed chunk by chunk from `Template.generate()` and the
rendering stops as soon as it passes its cap. No I/O, no clock: the time budget is the worker's
job (`render_worker`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Mapping
from typing import Any, cast

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATE_FILENAME = "<template>"
MAX_REPEAT_ITEMS = 1_000_000
"""`'x' * n`, `[0] * n`: the largest result the sandbox builds."""
MAX_POWER_BITS = 65_536
"""`a ** b`: the largest integer result, in bits."""
SUBJECT_SCAN_FACTOR = 16
"""A subject is cut, not refused: its rendering stops after this many times its character cap,
then whitespace is collapsed and the line cut to the cap (ticket subjects can be long)."""


class RenderFailure(Exception):
    """A template part that could not be rendered: `reason` is a short code for metrics and
    logs (never template source or data), `message` says what to fix."""

    def __init__(self, part: str, reason: str, message: str, line: int | None = None) -> None:
        super().__init__(part, reason, message, line)
        self.part = part
        self.reason = reason
        self.message = message
        self.line = line

    def __str__(self) -> str:
        where = self.part if self.line is None else f"{self.part}, line {self.line}"
        return f"{where}: {self.message}"


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with `*` and `**` refused when their result would be huge."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and abs(left) > 1 and right * abs(left).bit_length() > MAX_POWER_BITS:
                raise SecurityError(f"the result of '**' would exceed {MAX_POWER_BITS} bits")
        return super().call_binop(context, operator, left, right)


def _check_repeat(sequence: Any, count: Any) -> None:
    if isinstance(sequence, str | bytes | list | tuple) and isinstance(count, int):
        if len(sequence) * count > MAX_REPEAT_ITEMS:
            raise SecurityError(f"the result of '*' would exceed {MAX_REPEAT_ITEMS} items")


def sandbox(*, strict: bool) -> BoundedSandbox:
    """`strict`: an undefined variable or attribute is an error as soon as it is used (PUT
    validation against complete samples); otherwise it renders empty, as Jinja does by
    default (send time, where optional event fields may be absent)."""
    return BoundedSandbox(
        autoescape=False,
        keep_trailing_newline=True,
        undefined=StrictUndefined if strict else Undefined,
    )


def template_line(exc: BaseException) -> int | None:
    """The template line an exception was raised on (Jinja rewrites tracebacks so that the
    template's frames carry template line numbers)."""
    line = getattr(exc, "lineno", None) if isinstance(exc, TemplateSyntaxError) else None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == TEMPLATE_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _failure(part: str, exc: Exception) -> RenderFailure:
    line = template_line(exc)
    if isinstance(exc, TemplateSyntaxError):
        return RenderFailure(part, "syntax", exc.message or "syntax error", exc.lineno)
    if isinstance(exc, SecurityError):
        return RenderFailure(part, "security", str(exc).rstrip("."), line)
    if isinstance(exc, UndefinedError):
        return RenderFailure(part, "undefined", str(exc), line)
    if isinstance(exc, MemoryError):
        return RenderFailure(part, "memory", "exceeded the memory limit", line)
    return RenderFailure(part, "error", f"{type(exc).__name__}: {exc}", line)


@functools.lru_cache(maxsize=256)
def compiled(env: BoundedSandbox, source: str) -> Template:
    """Compiled templates, kept for the sources used most (an account's override is rendered
    for every notification of its kind)."""
    return env.from_string(source)


def render_part(
    env: BoundedSandbox,
    part: str,
    source: str,
    context: Mapping[str, Any],
    cap: int,
    *,
    cut: bool = False,
) -> str:
    """Compile and render `source`; raise `RenderFailure` if it fails. Output past `cap`
    characters stops the rendering: an error, or with `cut` the first `cap` characters."""
    chunks: list[str] = []
    size = 0
    try:
        generator = cast(Generator[str, None, None], compiled(env, source).generate(context))
        try:
            for chunk in generator:
                chunks.append(chunk)
                size += len(chunk)
                if size > cap:
                    break
        finally:
            generator.close()
    except Exception as exc:
        raise _failure(part, exc) from None
    if size > cap and not cut:
        raise RenderFailure(part, "output_cap", f"output over {cap} characters")
    text = "".join(chunks)[:cap]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RenderFailure(part, "error", "output is not valid Unicode text") from None
    return text


def clean_subject(text: str, cap: int) -> str:
    """One line: control characters become spaces, whitespace runs one space, cut to `cap`."""
    printable = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)
    return " ".join(printable.split())[:cap]


def render_template(
    env: BoundedSandbox,
    subject: str,
    body: str,
    context: Mapping[str, Any],
    *,
    subject_chars: int,
    body_chars: int,
    on_part: Callable[[str], None] | None = None,
) -> tuple[str, str]:
    """Both parts: the subject one clean line of at most `subject_chars`, the body at most
    `body_chars` characters. `on_part(name)` is called as each part starts (the worker uses it
    to name the part a time budget ran out in)."""
    if on_part is not None:
        on_part("subject")
    scan = subject_chars * SUBJECT_SCAN_FACTOR
    raw_subject = render_part(env, "subject", subject, context, scan, cut=True)
    if on_part is not None:
        on_part("body")
    rendered_body = render_part(env, "body", body, context, body_chars)
    return clean_subject(raw_subject, subject_chars), rendered_body
