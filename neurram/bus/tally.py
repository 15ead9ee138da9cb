"""Tallies: a client that does not await each reply has its outcomes counted instead.

A message's ``reply_to`` names either a reply stream (the consumer appends the whole reply)
or a tally, a hash under ``<namespace>tally:<client>`` (the consumer increments the field
named for the outcome). A client that sent ``n`` messages is through when the counts add up
to ``n``; the cost is one hash per client, whatever ``n``.
"""

from __future__ import annotations

from typing import TypeGuard

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from neurram.bus.entries import text
from neurram.bus.keys import Namespace

TALLY = "tally"
TALLY_TTL_SECONDS = 7 * 24 * 3600  # refreshed by every count; a vanished client's expires


def tally_key(namespace: Namespace, client: str) -> str:
    """The tally of ``client`` in ``namespace``."""
    return namespace.key(TALLY, client)


def is_tally(key: str | None, namespace: Namespace) -> TypeGuard[str]:
    """True when ``key`` (a ``reply_to``) names a tally of ``namespace``."""
    return key is not None and key.startswith(namespace.key(TALLY, ""))


def stage_tally(pipe: Pipeline, key: str, field: str, count: int = 1) -> None:
    """Queue ``count`` more of ``field`` on the tally ``key``."""
    pipe.hincrby(key, field, count)
    pipe.expire(key, TALLY_TTL_SECONDS)


async def read_tally(redis: Redis, key: str) -> dict[str, int]:
    """The counts of a tally so far (empty before the first)."""
    counts: dict[bytes, bytes] = await redis.hgetall(key)  # type: ignore[misc,assignment,unused-ignore]
    return {text(field): int(count) for field, count in counts.items()}
