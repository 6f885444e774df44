"""Human ticket numbers: random (not guessable from the count of tickets), with a check digit.

Format `TF-NNNN-NNNNNC`: nine random digits and a Luhn check digit (C), so a mistyped digit or a
swap of neighbours (all but 09/90) in a phone call is caught before any lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PATTERN = re.compile(r"\bTF-(\d{4})-(\d{6})\b")
RandomDigits = Callable[[int], str]


def luhn_check_digit(digits: str) -> int:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def new_ticket_number(random_digits: RandomDigits) -> str:
    body = random_digits(9)
    if len(body) != 9 or not body.isdigit():
        raise ValueError("random_digits must return nine digits")
    digits = body + str(luhn_check_digit(body))
    return f"TF-{digits[:4]}-{digits[4:]}"


def is_valid(number: str) -> bool:
    match = PATTERN.fullmatch(number.strip())
    if not match:
        return False
    digits = "".join(match.groups())
    return luhn_check_digit(digits[:-1]) == int(digits[-1])


def find_in(text: str) -> str | None:
    """The first valid ticket number in `text` (an email subject), if any."""
    for match in PATTERN.finditer(text):
        candidate = match.group(0)
        if is_valid(candidate):
            return candidate
    return None
