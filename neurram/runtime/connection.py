"""Where a brain's state lives: a Redis URL, or the embedded server when none is given."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from neurram.bus.refusals import credentials_refused
from neurram.errors import BrainAccessDeniedError, BrainUnavailableError
from neurram.runtime import access, embedded
from neurram.settings import Settings

CONNECT_TIMEOUT = 5.0
SOCKET_TIMEOUT = 15.0  # above every BLOCK of the bus (redis-py #2807)


@dataclass
class Connection:
    """A Redis client, and the embedded server it uses if this process started one."""

    redis: aioredis.Redis
    url: str
    server: embedded.EmbeddedServer | None = None

    @classmethod
    async def open(cls, settings: Settings) -> Connection:
        """Connect to ``settings.redis_url``, or start/reuse the embedded server."""
        server = None
        url = settings.redis_url
        if url is None:
            server = await asyncio.to_thread(embedded.acquire, settings.data_path)
            url = server.url
        client = aioredis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT
        )
        try:
            await asyncio.wait_for(client.ping(), CONNECT_TIMEOUT)
        except (RedisError, OSError, TimeoutError) as exc:
            await client.aclose()
            if server is not None:
                await asyncio.to_thread(embedded.release, server)
            if credentials_refused(exc):
                raise BrainAccessDeniedError(access.refused(access.user_of(url), url)) from exc
            raise BrainUnavailableError(
                f"cannot reach Redis at {access.redact(url)}: {exc}. Start it, or leave "
                "redis_url unset to use the embedded server"
            ) from exc
        return cls(client, url, server)

    @property
    def user(self) -> str | None:
        """The ACL user this connection authenticates as (None: the default user)."""
        return access.user_of(self.url)

    async def close(self) -> None:
        await self.redis.aclose()
        if self.server is not None:
            await asyncio.to_thread(embedded.release, self.server)
            self.server = None
