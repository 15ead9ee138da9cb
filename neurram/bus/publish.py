"""Emitting messages: one XADD now, or queued on a pipeline beside state writes."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from neurram.bus.codec import FIELD
from neurram.bus.entries import text


async def publish(redis: Redis, stream: str, payload: bytes) -> str:
    """Append ``payload`` to ``stream``; returns the entry id."""
    entry_id: Any = await redis.xadd(stream, {FIELD: payload})
    return text(entry_id)


def stage(pipe: Pipeline, stream: str, payload: bytes) -> None:
    """Queue the XADD on ``pipe``, so it is sent together with the caller's other writes."""
    pipe.xadd(stream, {FIELD: payload})


def stage_reply(pipe: Pipeline, stream: str, payload: bytes, ttl_seconds: int = 3600) -> None:
    """Queue a reply; the reply stream expires if its client vanished without cleaning up."""
    stage(pipe, stream, payload)
    pipe.expire(stream, ttl_seconds)
