"""What every server-drawn SVG of the console needs: text escaped for XML (characters XML
cannot hold replaced), and numbers written short."""

from __future__ import annotations

import html
import re

_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def text(value: str) -> str:
    """`value` safe as SVG text or an attribute value."""
    return html.escape(_NOT_XML.sub("\ufffd", value), quote=True)


def num(value: float) -> str:
    """A coordinate with at most two decimals, no trailing zeros (`12.5`, `0`)."""
    written = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if written == "-0" else written
