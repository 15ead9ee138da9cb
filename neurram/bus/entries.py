"""Stream entries as read from Redis, whatever the client's protocol or decoding."""

from __future__ import annotations

from typing import Any, NamedTuple


class Entry(NamedTuple):
    """One stream entry; ``fields`` is empty when the entry was deleted while pending."""

    stream: str
    entry_id: str
    fields: dict[bytes, bytes]


def text(value: bytes | str) -> str:
    """A Redis reply value (entry id, stream name) as text."""
    return value.decode() if isinstance(value, bytes) else value


def read_entries(reply: Any) -> list[Entry]:
    """Flatten an XREAD/XREADGROUP reply into entries.

    RESP2 gives ``[[stream, [(id, fields), ...]], ...]``; RESP3 gives
    ``{stream: [[(id, fields), ...]]}``, one list deeper.
    """
    if not reply:
        return []
    if isinstance(reply, dict):
        per_stream = [(name, [e for part in parts for e in part]) for name, parts in reply.items()]
    else:
        per_stream = reply
    return [
        Entry(text(stream), text(entry_id), dict(fields or {}))
        for stream, items in per_stream
        for entry_id, fields in items
    ]
