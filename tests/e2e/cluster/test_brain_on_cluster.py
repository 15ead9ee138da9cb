"""A brain on a 3-master Redis Cluster, regions in this process: the whole public API."""

from __future__ import annotations

import pytest

from neurram import Brain, ConfigurationError, Layer, MemoryType
from neurram.bus import Namespace
from neurram.runtime.cluster import Shards

pytestmark = pytest.mark.e2e


async def test_every_call_works_on_the_cluster(
    cluster_urls: list[str], brain_id: str, shards: Shards
) -> None:
    master = shards.node_of(Namespace(brain_id))
    seed = next(url for url in cluster_urls if not url.endswith(f":{master.port}"))
    async with await Brain.create(  # through a node that does not hold the brain
        redis_url=seed, redis_cluster=True, brain_id=brain_id, model="hash"
    ) as brain:
        fact = await brain.perceive("The deploy key rotates every ninety days", salience=0.9)
        habit = await brain.perceive(
            "Prefers green tea", memory_type=MemoryType.HABITUAL, reward=0.8
        )
        other = await brain.perceive("The office plant needs water on Fridays")
        assert fact.layer is Layer.WORKING
        assert (await brain.recall("deploy key rotation"))[0][0].engram_id == fact.engram_id
        await brain.reinforce(other.engram_id, 0.5)
        stats = await brain.sleep()
        assert stats["consolidated"] >= 1
        layers = {e.engram_id: e.layer for e in await brain.engrams()}
        assert layers[fact.engram_id] is Layer.LONG_TERM
        assert layers[habit.engram_id] is Layer.LONG_TERM
        assert await brain.forget(other.engram_id)
        assert other.engram_id not in {e.engram_id for e in await brain.engrams()}
        for i in range(50):
            await brain.perceive(f"bulk fact {i} of the cluster test", wait=False)
        counts = await brain.flush()
        assert counts["held"] == 50 and counts["expired"] == 0


async def test_a_cluster_needs_a_url() -> None:
    with pytest.raises(ConfigurationError, match="redis_cluster needs redis_url"):
        await Brain.create(redis_cluster=True, model="hash")
