"""Timing helpers: backoff that wakes up when asked to stop, and safe BLOCK times."""

from __future__ import annotations

import asyncio
import contextlib

from redis.asyncio import Redis


class Backoff:
    """Delays ``first``, ``2*first``, ... up to ``cap`` seconds; ``reset`` after a success."""

    def __init__(self, first: float = 0.05, cap: float = 2.0) -> None:
        self._first = first
        self._cap = cap
        self._next = first

    def reset(self) -> None:
        self._next = self._first

    def delay(self) -> float:
        """The next delay; each call doubles the one after it."""
        current = self._next
        self._next = min(self._next * 2, self._cap)
        return current

    async def wait(self, stop: asyncio.Event) -> None:
        """Sleep for the next delay, or less if ``stop`` is set meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.delay())


def check_block_ms(redis: Redis, block_ms: int) -> None:
    """Refuse a BLOCK time the client's socket timeout would cut short (redis-py #2807)."""
    if block_ms < 1:
        raise ValueError(f"block_ms must be at least 1 (0 would block forever), got {block_ms}")
    pool = redis.connection_pool
    # the connection class's default counts too (redis-py 8: 5 s on unix sockets)
    socket_timeout = pool.connection_class(**pool.connection_kwargs).socket_timeout
    if socket_timeout is not None and block_ms / 1000 >= socket_timeout:
        raise ValueError(
            f"block_ms={block_ms} must be shorter than the client's socket_timeout="
            f"{socket_timeout}s; lower block_ms or raise socket_timeout"
        )
