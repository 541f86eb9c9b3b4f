"""Fit a stored verdict to its columns, so no header value can make the database refuse it.

Message-IDs longer than the column are stored hashed (a stable ``<sha256.HEX@oversized.invalid>``,
so the same message dedupes and a reference to it still matches), addresses and other bounded
values are truncated, and NUL characters (which PostgreSQL text cannot hold) are dropped
everywhere, including inside ``refs``, ``recipients`` and ``details``. Pure.
"""

from __future__ import annotations

import hashlib
from typing import Any

MESSAGE_ID_MAX = 500  # inbound_messages.message_id, messages.message_id
ADDRESS_MAX = 320  # inbound_messages.from_addr
SEVERITY_MAX = 10
KIND_MAX = 20


def clip(value: str, limit: int) -> str:
    return value[:limit]


def fit_message_id(value: str | None) -> str | None:
    """The Message-ID itself when it fits, else a stable hash of it (same input, same value)."""
    if value is None or len(value) <= MESSAGE_ID_MAX:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()
    return f"<sha256.{digest}@oversized.invalid>"


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): _clean(v) for k, v in value.items()}
    return value


def fit_row(row: dict[str, Any]) -> dict[str, Any]:
    """A copy of an ``inbound_messages`` row that every database accepts."""
    out = {k: _clean(v) for k, v in row.items()}
    out["message_id"] = fit_message_id(out.get("message_id"))
    out["refs"] = [r for r in (fit_message_id(r) for r in out.get("refs") or []) if r]
    if out.get("from_addr"):
        out["from_addr"] = clip(out["from_addr"], ADDRESS_MAX)
    out["recipients"] = [clip(a, ADDRESS_MAX) for a in out.get("recipients") or []]
    for key in ("returned_refs", "thread_refs"):
        if out.get(key) is not None:
            out[key] = [r for r in (fit_message_id(r) for r in out[key]) if r]
    if out.get("complainant"):
        out["complainant"] = clip(out["complainant"], ADDRESS_MAX)
    if out.get("severity"):
        out["severity"] = clip(out["severity"], SEVERITY_MAX)
    out["kind"] = clip(out.get("kind") or "unrelated", KIND_MAX)
    return out


__all__ = ["ADDRESS_MAX", "MESSAGE_ID_MAX", "clip", "fit_message_id", "fit_row"]
