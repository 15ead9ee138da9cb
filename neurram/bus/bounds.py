"""Keeping streams bounded: trim only what every group has acknowledged.

A stream consumed by groups is trimmed up to the oldest entry some group still needs: its
oldest pending entry, or the entry after the last one it was delivered. Nothing a group has not
acknowledged is ever dropped. A stream nobody consumes through a group (observers only) is
capped by length instead, by its producer.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from neurram.bus.entries import text


def parse_id(entry_id: str) -> tuple[int, int]:
    """A stream id as a sortable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def consumer_groups(redis: Redis, stream: str) -> list[dict[str, Any]]:
    """XINFO GROUPS of ``stream``; none when the stream does not exist yet."""
    try:
        return await redis.xinfo_groups(stream)
    except ResponseError:  # no such stream yet
        return []


async def group_backlog(redis: Redis, stream: str, group: str) -> tuple[int, int]:
    """(lag, pending) of ``group`` on ``stream``: entries not yet delivered to it, and entries
    delivered but not acknowledged; (0, 0) when the group does not exist (yet). A lag Redis
    cannot tell (after deletions) counts as 0."""
    for info in await consumer_groups(redis, stream):
        if text(info["name"]) == group:
            return int(info.get("lag") or 0), int(info["pending"])
    return 0, 0


async def oldest_needed(redis: Redis, stream: str) -> str | None:
    """The oldest entry id some group of ``stream`` still needs; None without groups."""
    groups = await consumer_groups(redis, stream)
    if not groups:
        return None
    bounds: list[str] = []
    for group in groups:
        # the oldest pending entry; none (all were ACKed since XINFO): the last delivered one,
        # which MINID keeps
        oldest = (await redis.xpending(stream, group["name"]))["min"] if group["pending"] else None
        bounds.append(text(oldest or group["last-delivered-id"]))
    return min(bounds, key=parse_id)


async def trim_acknowledged(redis: Redis, stream: str) -> int:
    """Drop entries every group has acknowledged (approximately: whole nodes); how many."""
    minid = await oldest_needed(redis, stream)
    if minid is None or minid == "0-0":
        return 0
    return int(await redis.xtrim(stream, minid=minid, approximate=True))


async def log_head(redis: Redis, stream: str) -> tuple[str, int, int]:
    """(last id, entries ever added, entries still held) of a log read by plain XREAD.

    A reader that has read ``n`` entries since the log began missed some to trimming when
    ``n < added - held``.
    """
    try:
        info = await redis.xinfo_stream(stream)
    except ResponseError:  # no such stream yet
        return "0-0", 0, 0
    return log_head_of(info)


def log_head_of(info: dict[str, Any]) -> tuple[str, int, int]:
    """:func:`log_head` from the stream's XINFO STREAM reply."""
    return text(info["last-generated-id"]), int(info["entries-added"]), int(info["length"])


def stage_cap(pipe: Any, stream: str, maxlen: int) -> None:
    """Cap a stream that no group consumes (a log, observers) at about ``maxlen`` entries."""
    pipe.xtrim(stream, maxlen=maxlen, approximate=True)
