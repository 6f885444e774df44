"""Reading a parsed email from the gateway: a new ticket, or a reply to an existing one.

The hosted-voice document asks for the subject
"CUSTOMER Name – Location Address – Issue Description – Priority Level" (en dash; a spaced
hyphen is accepted too). A subject that does not follow it still opens a ticket, with the
policy's default priority, so a customer in trouble is never bounced for formatting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.policy import Policy

_SEPARATOR = re.compile(r"\s+[–—-]\s+")
_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4"}


@dataclass(frozen=True, slots=True)
class ParsedSubject:
    customer: str | None
    location: str | None
    issue: str
    priority: str | None  # a priority of the policy, or None when not recognised


def normalise_priority(text: str, policy: Policy) -> str | None:
    """'Priority 1' / 'P1' -> p1, 'Severity II' -> sev2, 'High' -> high (if the policy has it)."""
    cleaned = re.sub(r"[\s_]+", " ", text.strip().lower()).removesuffix(" priority").strip()
    candidates = {cleaned, cleaned.replace(" ", "")}
    match = re.fullmatch(r"(priority|prio|p|severity|sev)\s*([0-9]|i{1,3}|iv)", cleaned)
    if match:
        number = _ROMAN.get(match.group(2), match.group(2))
        candidates |= {f"p{number}", f"sev{number}"}
    for candidate in candidates:
        if candidate in policy.priorities:
            return candidate
    return None


def parse_subject(subject: str, policy: Policy) -> ParsedSubject:
    parts = [part.strip() for part in _SEPARATOR.split(subject.strip()) if part.strip()]
    if len(parts) >= 4:
        priority = normalise_priority(parts[-1], policy)
        if priority is not None:
            return ParsedSubject(parts[0], parts[1], " – ".join(parts[2:-1]), priority)
    if len(parts) >= 2:
        priority = normalise_priority(parts[-1], policy)
        if priority is not None:
            return ParsedSubject(None, None, " – ".join(parts[:-1]), priority)
    return ParsedSubject(None, None, subject.strip(), None)


def strip_reply_prefixes(subject: str) -> str:
    return re.sub(r"^((re|fwd?|aw|sv)\s*:\s*)+", "", subject.strip(), flags=re.IGNORECASE)
