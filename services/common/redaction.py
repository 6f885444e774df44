"""URLs fit to show: in logs, in `last_error`, in API listings. Userinfo (`user:password@`)
and query strings often carry credentials (`?token=...`), so both are replaced by
`[redacted]`; the fragment is dropped. Scheme, host, port and path stay, which is what a
reader needs to tell destinations apart."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

REDACTED = "[redacted]"
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """`https://user:pw@hooks.example.com:8443/x?token=1#f` ->
    `https://[redacted]@hooks.example.com:8443/x?[redacted]`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not parts.netloc:
        return REDACTED if ("@" in url or "?" in url) else url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = f"{REDACTED}@" if "@" in parts.netloc else ""
    netloc = f"{userinfo}{host}" + (f":{port}" if port is not None else "")
    query = f"?{REDACTED}" if parts.query or url.split("#", 1)[0].endswith("?") else ""
    return f"{parts.scheme}://{netloc}{parts.path}{query}"


def redact_urls_in(text: str) -> str:
    """Every URL inside a free text (an exception message) redacted."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


class RedactUrls(logging.Filter):
    """Redacts the URLs in a logger's records (`httpx` logs every request's full URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_urls_in(record.getMessage())
        record.args = None
        return True


def redact_logger(name: str) -> None:
    """Make `name`'s records carry redacted URLs only (once per logger)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactUrls) for f in logger.filters):
        logger.addFilter(RedactUrls())
