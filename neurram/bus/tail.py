"""Read-only view of streams for ``neurram tap``: plain XREAD, no consumer group touched."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from redis.asyncio import Redis
from redis.typing import KeyT, StreamIdT

from neurram.bus.entries import read_entries, text
from neurram.bus.timing import check_block_ms


async def tail(
    redis: Redis, streams: Sequence[str], start: str = "$", block_ms: int = 1000
) -> AsyncIterator[tuple[str, str, dict[bytes, bytes]]]:
    """Yield ``(stream, entry_id, fields)`` for entries after ``start`` ("$": only new ones)."""
    check_block_ms(redis, block_ms)
    positions: dict[KeyT, StreamIdT] = {}
    for stream in streams:
        positions[stream] = await _resolve(redis, stream, start)
    while True:
        for entry in read_entries(await redis.xread(positions, block=block_ms)):
            positions[entry.stream] = entry.entry_id
            yield entry


async def _resolve(redis: Redis, stream: str, start: str) -> str:
    """Pin "$" to the current last id, so entries added between two reads are not skipped."""
    if start != "$":
        return start
    last = await redis.xrevrange(stream, count=1)
    return text(last[0][0] or "0-0") if last else "0-0"
