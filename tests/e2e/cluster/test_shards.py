"""Brains spread over the masters of a cluster, each whole on one slot of one master."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.crc import key_slot

from neurram import Brain
from neurram.bus import Namespace
from neurram.runtime.cluster import Shards

from ...conftest import BrainFactory
from .conftest import brains_one_per_master


async def test_brains_land_on_different_masters(
    make_brain: BrainFactory, cluster_urls: list[str], brain_id: str, shards: Shards
) -> None:
    ids = brains_one_per_master(brain_id)
    brains: list[Brain] = [await make_brain(brain_id=i) for i in ids]  # all through node 0
    for brain in brains:
        await brain.perceive(f"A memory of {brain.settings.brain_id}")
    holders: list[str] = []
    for brain_id_ in ids:
        slot = key_slot(Namespace(brain_id_).key("").encode())
        keys_by_node = {}
        for url in cluster_urls:
            async with aioredis.from_url(url, decode_responses=True) as node:
                keys_by_node[url] = await node.cluster("GETKEYSINSLOT", slot, 1000)
        holding = [url for url, keys in keys_by_node.items() if keys]
        assert len(holding) == 1  # the brain's data is on one master
        brain_keys = set(keys_by_node[holding[0]])
        assert {Namespace(brain_id_).key("engrams"), Namespace(brain_id_).key("wm")} <= brain_keys
        assert holding[0].endswith(f":{shards.node_of(Namespace(brain_id_)).port}")
        holders.append(holding[0])
    assert sorted(holders) == sorted(cluster_urls)  # each master holds one of the brains
