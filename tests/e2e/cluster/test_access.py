"""ACL users on a Redis Cluster: `neurram grant` makes them on every node, and a brain's user
is a full client there, refused by Redis on other brains' keys."""

from __future__ import annotations

import pytest
from redis.exceptions import NoPermissionError

from neurram import Brain
from neurram.bus import Namespace
from neurram.runtime import access
from neurram.runtime.cluster import Shards

from ..conftest import RegionsFactory, succeed
from .conftest import brains_one_per_master

pytestmark = pytest.mark.e2e


async def test_users_granted_on_a_cluster_work_on_every_node_and_isolate_brains(
    own_cluster_urls: list[str], start_runner: RegionsFactory, brain_id: str
) -> None:
    seed = own_cluster_urls[0]
    service, _ = await succeed("grant", "--redis-url", seed, "--service", "runners")
    ours, theirs = brains_one_per_master(brain_id)[:2]  # on two masters
    url, _ = await succeed("grant", "--redis-url", seed, "--brain", ours)
    await start_runner("--redis-url", service)  # every brain of the cluster
    brain = await Brain.create(redis_url=url, brain_id=ours, run_regions=False, model="hash")
    try:
        kept = await brain.perceive("Ada parks the van by the mill", salience=0.9)
        for n in range(5):
            await brain.perceive(f"Invoice {n} was paid by the bank", wait=False)
        assert (await brain.flush())["held"] == 5
        assert (await brain.recall("where does Ada park"))[0][0].engram_id == kept.engram_id
    finally:
        await brain.close()
    as_user = await Shards.open(url)  # the user's own view of the cluster
    try:
        with pytest.raises(NoPermissionError):  # on the other brain's master
            await as_user.client_for(Namespace(theirs)).hget(Namespace(theirs).key("x"), "e1")
    finally:
        await as_user.aclose()
    shards = await Shards.open(seed)
    try:
        for node in shards.every_node():  # nothing else was refused, on any node
            log = await node.acl_log()
            refused = {e["object"] for e in log if e["username"] == access.user_of(url)}
            assert refused <= {Namespace(theirs).key("x"), "client|unblock"}
        said, _ = await succeed("revoke", "--redis-url", seed, "--brain", ours)
        assert said.startswith("revoked")
        for node in shards.every_node():
            assert await node.acl_getuser(access.brain_user(ours)) is None
    finally:
        await shards.aclose()
