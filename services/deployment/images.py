"""Pinning the image an overlay deploys: the `images:` entry of its kustomization.yaml gets
the release's tag and digest (`ticketflow deploy set-image`, like `kustomize edit set image`
but keeping the file's comments). The prod overlay ships an all-zero placeholder digest that
no registry serves, so an unreleased render fails to pull instead of running a moving tag."""

from __future__ import annotations

import re
from typing import Any

import yaml

IMAGE = "ticketflow"
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class ImagePinError(ValueError):
    """A tag, digest or kustomization the pin cannot use."""


def _entry(document: Any, name: str) -> dict[str, Any]:
    images = document.get("images") if isinstance(document, dict) else None
    found = [item for item in images or [] if isinstance(item, dict) and item.get("name") == name]
    if len(found) != 1:
        raise ImagePinError(f"the kustomization has no single `images:` entry named {name!r}")
    return found[0]


def pinned(text: str, name: str = IMAGE) -> tuple[str | None, str | None]:
    """The (newTag, digest) of the image entry `name` in a kustomization's text."""
    entry = _entry(yaml.safe_load(text), name)
    tag, digest = entry.get("newTag"), entry.get("digest")
    return (None if tag is None else str(tag)), (None if digest is None else str(digest))


def set_image(text: str, *, digest: str, tag: str | None = None, name: str = IMAGE) -> str:
    """The kustomization text with the entry `name` set to `digest` (and `tag`, if given),
    every other line unchanged. The entry must already have `newTag:` and `digest:` lines."""
    if not DIGEST.fullmatch(digest):
        raise ImagePinError(f"digest must be sha256:<64 lowercase hex digits>, not {digest!r}")
    if digest == PLACEHOLDER_DIGEST:
        raise ImagePinError("that is the placeholder digest, not a released image")
    if tag is not None and not TAG.fullmatch(tag):
        raise ImagePinError(f"not a valid image tag: {tag!r}")
    _entry(yaml.safe_load(text), name)  # the file parses and has the entry
    lines = text.splitlines(keepends=True)
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if re.fullmatch(rf"\s*-\s+name:\s*[\"']?{re.escape(name)}[\"']?\s*", line.rstrip("\n"))
        ),
        None,
    )
    if start is None:
        raise ImagePinError(f"write the `images:` entry for {name!r} as `- name: {name}`")
    indent = len(lines[start]) - len(lines[start].lstrip(" -"))
    wanted = {"digest": digest, **({"newTag": f'"{tag}"'} if tag is not None else {})}
    done: set[str] = set()
    for i in range(start + 1, len(lines)):
        line = lines[i]
        stripped = line.lstrip(" ")
        if stripped.strip() and (len(line) - len(stripped) < indent or stripped.startswith("-")):
            break  # the next entry, or the end of `images:`
        body = line.rstrip("\r\n")
        match = re.match(r"(\s*)(newTag|digest):", body)
        if match and match.group(2) in wanted:
            key = match.group(2)
            lines[i] = f"{match.group(1)}{key}: {wanted[key]}{line[len(body) :]}"
            done.add(key)
    missing = set(wanted) - done
    if missing:
        raise ImagePinError(
            f"the `images:` entry {name!r} has no {', '.join(sorted(missing))} line to set"
        )
    out = "".join(lines)
    expected = (tag if tag is not None else pinned(text, name)[0], digest)
    if pinned(out, name) != expected:
        raise ImagePinError("the rewritten kustomization does not read back as pinned")
    return out
