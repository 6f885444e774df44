"""Jinja2 templates per notification (package files `templates/<name>.txt.j2`), overridable per
account. A template's first line is `Subject: ...`, the rest is the plain-text body. Account
templates run in Jinja's sandbox: an integrator's template cannot reach Python internals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment


class TemplateError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


def _split(source: str) -> tuple[str, str]:
    first, _, rest = source.partition("\n")
    if not first.startswith("Subject:"):
        raise TemplateError("a template starts with a `Subject: ...` line")
    return first.removeprefix("Subject:").strip(), rest


class Templates:
    def __init__(self) -> None:
        self._env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
        folder = resources.files("services.notify").joinpath("templates")
        self._defaults = {
            entry.name.removesuffix(".txt.j2"): entry.read_text(encoding="utf-8")
            for entry in folder.iterdir()
            if entry.name.endswith(".txt.j2")
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._defaults)

    def check(self, subject: str, body: str) -> None:
        """Raise `TemplateError` (with the line) if an override does not compile."""
        for part, text in (("subject", subject), ("body", body)):
            try:
                self._env.from_string(text)
            except TemplateSyntaxError as exc:
                raise TemplateError(f"{part}, line {exc.lineno}: {exc.message}") from None

    def render(
        self, name: str, context: Mapping[str, Any], override: tuple[str, str] | None = None
    ) -> Rendered:
        if override is not None:
            subject_source, body_source = override
        else:
            subject_source, body_source = _split(self._defaults[name])
        subject = self._env.from_string(subject_source).render(context)
        body = self._env.from_string(body_source).render(context)
        return Rendered(" ".join(subject.split())[:250], body)
