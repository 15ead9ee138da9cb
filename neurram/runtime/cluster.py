"""Redis Cluster: a brain's commands go to the master that owns the brain's hash slot.

Every key of a brain is under ``neurram:{<brain_id>}:``, so a whole brain lives in one slot.
redis-py's cluster client learns the slot map from a seed node; a brain then talks to its
master through a plain client of that node, shared by every brain on the node. Everything a
brain does thus runs exactly as on a single server: MULTI/EXEC with WATCH, Lua with KEYS,
SCAN of its keys, and blocking XREADGROUP on a dedicated connection that CLIENT UNBLOCK (which
must reach the same node) interrupts. Why not the cluster client itself: its pipelines run a
one-slot transaction, but queue every command through a new thread and event loop (redis-py
8.1; measured: a WATCH plus a 64-command MULTI/EXEC took 24.6 ms, 1.7 ms through the node's
client), and it has no dedicated connection to block on.

A brain's master is looked up when its client is made: after a resharding of its slot or a
failover, the processes that serve it must be restarted (until then its commands fail with
MOVED or a connection error).
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import parse_url

from neurram.bus import Namespace
from neurram.runtime.packing import client_of


class Shards:
    """The cluster's slot map, and one client per master that brains share."""

    def __init__(self, cluster: RedisCluster, node_options: dict[str, Any]) -> None:
        self.cluster = cluster
        self._node_options = node_options
        self._clients: dict[str, aioredis.Redis] = {}

    @classmethod
    async def open(cls, url: str, **options: Any) -> Shards:
        """Learn the slot map from the seed node at ``url`` (credentials and TLS are kept
        for every node)."""
        cluster = RedisCluster.from_url(url, **options)
        try:
            await cluster.initialize()
        except BaseException:
            await cluster.aclose()
            raise
        node_options = {k: v for k, v in parse_url(url).items() if k not in ("host", "port")}
        return cls(cluster, {**node_options, **options})

    def node_of(self, namespace: Namespace) -> ClusterNode:
        """The master that holds ``namespace``."""
        return self._node_of_key(namespace.key(""))

    def client_for(self, namespace: Namespace) -> aioredis.Redis:
        """A client of the master that holds ``namespace`` (shared with its other brains)."""
        return self.client_for_key(namespace.key(""))

    def client_for_key(self, key: str) -> aioredis.Redis:
        """A client of the master that holds ``key`` (one per master, shared)."""
        return self._client_of(self._node_of_key(key))

    def _client_of(self, node: ClusterNode) -> aioredis.Redis:
        client = self._clients.get(node.name)
        if client is None:
            client = client_of(host=node.host, port=int(node.port), **self._node_options)
            self._clients[node.name] = client
        return client

    def every_node(self) -> list[aioredis.Redis]:
        """A client of every node, masters and replicas: for what each node keeps on its own,
        such as ACL users."""
        return [self._client_of(node) for node in self.cluster.get_nodes()]

    def _node_of_key(self, key: str) -> ClusterNode:
        node = self.cluster.get_node_from_key(key)
        assert node is not None  # a covered slot always has a master
        return node

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        await self.cluster.aclose()
