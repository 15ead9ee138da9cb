"""Where a brain's state lives: a Redis URL, a Redis Cluster, or the embedded server when no
URL is given."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisClusterException, RedisError

from neurram.bus import Namespace
from neurram.bus.doorbell import DOORBELL
from neurram.bus.refusals import credentials_refused
from neurram.errors import BrainAccessDeniedError, BrainUnavailableError, ConfigurationError
from neurram.runtime import access, embedded
from neurram.runtime.cluster import Shards
from neurram.settings import Settings

CONNECT_TIMEOUT = 5.0
SOCKET_TIMEOUT = 15.0  # above every BLOCK of the bus (redis-py #2807)


@dataclass
class Connection:
    """A client of the server that holds the brain, and the embedded server it uses if this
    process started one, or the cluster's shards it was picked from."""

    redis: aioredis.Redis
    url: str
    server: embedded.EmbeddedServer | None = None
    shards: Shards | None = None

    @classmethod
    async def open(cls, settings: Settings) -> Connection:
        """Connect to ``settings.redis_url`` (with ``redis_cluster``: to the master of the
        brain's slot), or start/reuse the embedded server."""
        server = None
        url = settings.redis_url
        if url is None:
            if settings.redis_cluster:
                raise ConfigurationError(
                    "redis_cluster needs redis_url: the address of any node of the cluster"
                )
            server = await asyncio.to_thread(embedded.acquire, settings.data_path)
            url = server.url
        try:
            client, shards = await _connect(url, settings)
        except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
            if server is not None:
                await asyncio.to_thread(embedded.release, server)
            if credentials_refused(exc):
                raise BrainAccessDeniedError(access.refused(access.user_of(url), url)) from exc
            raise BrainUnavailableError(
                f"cannot reach Redis at {access.redact(url)}: {exc}. Start it, or leave "
                "redis_url unset to use the embedded server"
            ) from exc
        return cls(client, url, server, shards)

    def client_for(self, brain: str) -> aioredis.Redis:
        """A client of the server that holds ``brain``'s keys."""
        return self.redis if self.shards is None else self.shards.client_for(Namespace(brain))

    @property
    def doorbell(self) -> aioredis.Redis:
        """A client of the server that holds the doorbell and the registry of brains."""
        return self.redis if self.shards is None else self.shards.client_for_key(DOORBELL)

    @property
    def user(self) -> str | None:
        """The ACL user this connection authenticates as (None: the default user)."""
        return access.user_of(self.url)

    async def close(self) -> None:
        await (self.shards.aclose() if self.shards is not None else self.redis.aclose())
        if self.server is not None:
            await asyncio.to_thread(embedded.release, self.server)
            self.server = None


async def _connect(url: str, settings: Settings) -> tuple[aioredis.Redis, Shards | None]:
    """A client that answered PING: on a cluster, of the master of the brain's slot."""
    options = {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": SOCKET_TIMEOUT}
    shards = None
    if settings.redis_cluster:
        shards = await asyncio.wait_for(Shards.open(url, **options), CONNECT_TIMEOUT)
        client = shards.client_for(Namespace(settings.brain_id))
    else:
        client = aioredis.from_url(url, **options)
    try:
        await asyncio.wait_for(client.ping(), CONNECT_TIMEOUT)
    except BaseException:
        await (shards.aclose() if shards is not None else client.aclose())
        raise
    return client, shards
