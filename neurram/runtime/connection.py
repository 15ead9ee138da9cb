"""Where a brain's state lives: a Redis URL, a Redis Cluster, or the embedded server when no
URL is given."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisClusterException, RedisError

from neurram.bus import Namespace
from neurram.bus.doorbell import DOORBELL
from neurram.bus.refusals import credentials_refused
from neurram.errors import BrainAccessDeniedError, BrainUnavailableError, ConfigurationError
from neurram.runtime import access, embedded
from neurram.runtime.cluster import Shards
from neurram.runtime.packing import client_from_url
from neurram.settings import Settings

CONNECT_TIMEOUT = 5.0
SOCKET_TIMEOUT = 15.0  # a client's commands: above every BLOCK of the bus (redis-py #2807)
KEEPALIVE = {  # regions over TCP: a peer gone silent is found within about 30 s
    option: seconds
    for name, seconds in (("TCP_KEEPIDLE", 15), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
    if (option := getattr(socket, name, None)) is not None
}


@dataclass
class Connection:
    """A client of the server that holds the brain, and the embedded server it uses if this
    process started one, or the cluster's shards it was picked from."""

    redis: aioredis.Redis
    url: str
    server: embedded.EmbeddedServer | None = None
    shards: Shards | None = None

    @classmethod
    async def open(cls, settings: Settings, *, serving: bool = False) -> Connection:
        """Connect to ``settings.redis_url`` (with ``redis_cluster``: to the master of the
        brain's slot), or start/reuse the embedded server.

        A client's commands each time out after ``SOCKET_TIMEOUT``, so a call never hangs
        on a server that stopped answering. ``serving`` (the regions' connection) sets no
        such timeout: on Python 3.11 redis-py arms one per command sent and read, a fifth of
        the CPU an awaited perceive costs the regions (measured); a region that waits on a
        stalled server goes on when it answers, and over TCP, keepalive probes find a peer
        that vanished."""
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
            client, shards = await _connect(url, settings, serving)
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


async def _connect(
    url: str, settings: Settings, serving: bool
) -> tuple[aioredis.Redis, Shards | None]:
    """A client that answered PING: on a cluster, of the master of the brain's slot."""
    options: dict[str, Any] = {  # None said, as redis-py's Redis() defaults to 5 s
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": None if serving else SOCKET_TIMEOUT,
    }
    if serving and not url.startswith("unix:"):
        options.update(socket_keepalive=True, socket_keepalive_options=KEEPALIVE)
    shards = None
    if settings.redis_cluster:
        shards = await asyncio.wait_for(Shards.open(url, **options), CONNECT_TIMEOUT)
        client = shards.client_for(Namespace(settings.brain_id))
    else:
        client = client_from_url(url, **options)
    try:
        await asyncio.wait_for(client.ping(), CONNECT_TIMEOUT)
    except BaseException:
        await (shards.aclose() if shards is not None else client.aclose())
        raise
    return client, shards
