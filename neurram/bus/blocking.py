"""Blocking reads that another task can interrupt, without cancelling a command in flight.

Cancelling a redis-py 8.1 command in flight is unreliable: measured here, a cancel that lands
while a blocked XREAD is starting is sometimes swallowed, and the task never ends. So blocking
reads run on a dedicated connection, and are interrupted server-side with CLIENT UNBLOCK (the
read then returns empty, as if its BLOCK had timed out). A user Redis refuses CLIENT UNBLOCK
(a brain's own user, see neurram.runtime.access: it must not unblock other clients' reads; or
one whose password was just revoked) waits instead for the read's BLOCK to expire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from neurram.bus.refusals import refused

R = TypeVar("R")

_UNBLOCK_RETRY_SECONDS = 0.05


class InterruptibleConnection:
    """One connection of ``redis``'s pool kept for blocking reads; ``aclose`` returns it."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._client = redis.client()
        self._client_id: int | None = None
        self._stop: asyncio.Event | None = None
        self._stopped: asyncio.Task[Literal[True]] | None = None

    async def read(self, command: Callable[[Redis], Awaitable[R]], stop: asyncio.Event) -> R:
        """Run ``command`` on the dedicated connection; when ``stop`` is set, unblock it."""
        if self._client_id is None:
            self._client_id = int(await self._client.client_id())
        read = asyncio.ensure_future(command(self._client))
        stopped = self._waiting_for(stop)
        try:
            await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
            while not read.done():  # the read may not have reached the server yet: repeat
                try:
                    await self._redis.client_unblock(self._client_id)
                except RedisError as exc:
                    if not refused(exc):
                        raise
                    await asyncio.wait({read})  # its BLOCK expires
                await asyncio.wait({read}, timeout=_UNBLOCK_RETRY_SECONDS)
        finally:
            if not read.done():  # CLIENT UNBLOCK failed: the server is gone, the read will fail
                self._client_id = None
                read.add_done_callback(_retrieve)
        if read.exception() is not None:
            self._client_id = None  # the connection is re-established with a new id
        return read.result()

    def _waiting_for(self, stop: asyncio.Event) -> asyncio.Task[Literal[True]]:
        """A task that ends once ``stop`` is set: one for every read with that event, not one
        a read (a reply reader reads once a reply)."""
        stopped = self._stopped
        if stopped is None or self._stop is not stop:
            if stopped is not None:
                stopped.cancel()
            self._stop, self._stopped = stop, (stopped := asyncio.ensure_future(stop.wait()))
        return stopped

    async def aclose(self) -> None:
        if self._stopped is not None:
            self._stopped.cancel()
            self._stop = self._stopped = None
        await self._client.aclose()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark an abandoned read's outcome as seen, so asyncio does not warn about it."""
    if not task.cancelled():
        task.exception()
