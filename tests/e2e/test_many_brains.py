"""One `neurram run` with no ``--brain`` serving every brain of its server: brains made after
it started, each isolated from the others, through a cache of loaded brains smaller than
them all, on connections that do not grow with them."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from neurram import Brain
from neurram.bus import Namespace
from neurram.runtime import topology
from neurram.settings import Settings

from ..conftest import eventually
from .conftest import DAYS, ClientFactory, RegionsFactory, heartbeats, remember_courier_days

pytestmark = pytest.mark.e2e


async def test_one_runner_serves_every_brain_made_after_it_started(
    serve_every_brain: RegionsFactory, clients: ClientFactory
) -> None:
    """20 brains made once the runner is up: each first perceive(wait=True) is answered (no
    restart), and each brain recalls exactly its own memories."""
    await serve_every_brain()

    async def served(n: int) -> tuple[set[str], set[str]]:
        brain = await clients(f"fleet-{n:02d}")
        remembered = await remember_courier_days(brain)
        recalled = await brain.recall("when does the courier come", top_k=10)
        return remembered, {engram.engram_id for engram, _ in recalled}

    results = await asyncio.gather(*(served(n) for n in range(20)))
    for remembered, recalled in results:
        assert len(remembered) == len(DAYS)
        assert recalled == remembered
    assert len(set().union(*(remembered for remembered, _ in results))) == 20 * len(DAYS)


PARCELS = 50  # a loaded brain of 50 engrams weighs 64 + 50: one fits a 200-engram cache
CACHE_ENGRAMS = 200
ACTORS = topology.select(Settings())  # region -> actor class: what a loaded brain runs


def parcel(brain_id: str, n: int) -> str:
    return f"Parcel {n} of {brain_id} waits in locker {n}"


async def fill(clients: ClientFactory, ids: list[str]) -> dict[str, tuple[Brain, list[str]]]:
    """Brains ``ids`` given ``PARCELS`` memories each, one brain after another (each evicts
    the ones before): brain id -> (client, engram id of each parcel)."""
    filled = {}
    for brain_id in ids:
        brain = await clients(brain_id)
        sent = [await brain.perceive(parcel(brain_id, n), wait=False) for n in range(PARCELS)]
        assert (await brain.flush())["held"] == PARCELS
        filled[brain_id] = brain, [engram.engram_id for engram in sent]
    return filled


async def loaded(redis: aioredis.Redis, brain_id: str) -> bool:
    """Whether the runner holds ``brain_id`` loaded (or is unloading it): the last heartbeat
    of one of its actors is not the stopped one that unloading writes."""
    last = {beat.region: beat.stopped for beat in await heartbeats(redis, brain_id)}
    assert last, f"{brain_id} was never served"
    return not all(last.values())


async def unloaded(redis: aioredis.Redis, brain_id: str) -> None:
    """Wait until the runner unloaded ``brain_id``."""

    async def out_of_the_cache() -> bool:
        return not await loaded(redis, brain_id)

    await eventually(out_of_the_cache, within=60)


async def settled(redis: aioredis.Redis, brain_id: str) -> bool:
    """Whether every message to ``brain_id``'s regions was handled (heartbeats aside)."""
    for cls in ACTORS.values():
        for stream in set(cls.consumes) - {"heartbeat"}:
            key = Namespace(brain_id).key(stream)
            if not await redis.exists(key):
                continue  # never written to, nor its region loaded for this brain
            groups = await redis.xinfo_groups(key)
            if any(group["lag"] != 0 or group["pending"] for group in groups):
                return False
    return True


async def all_settled(redis: aioredis.Redis, ids: list[str]) -> None:
    """Wait until the messages to every brain of ``ids`` were handled."""

    async def every_brain_settled() -> bool:
        return all([await settled(redis, brain_id) for brain_id in ids])

    await eventually(every_brain_settled, within=60)


async def beats_written(redis: aioredis.Redis, brain_id: str) -> int:
    """Heartbeats ever written for ``brain_id`` (trimming does not lower it)."""
    info = await redis.xinfo_stream(Namespace(brain_id).key("heartbeat"))
    return int(info["entries-added"])


async def test_brains_unloaded_from_a_full_cache_are_loaded_again_and_recall_right(
    serve_every_brain: RegionsFactory, clients: ClientFactory, own_redis: aioredis.Redis
) -> None:
    """Six brains of 50 memories, a cache with room for one, recalled in turn twice: each is
    unloaded (its actors' last heartbeats) before each recall, and recalls right, loaded
    again."""
    await serve_every_brain("--index-cache-engrams", str(CACHE_ENGRAMS))
    filled = await fill(clients, [f"cache-{n}" for n in range(6)])
    kept = [b for b in filled if await loaded(own_redis, b)]  # recalled last: it is in
    order = [b for b in filled if b not in kept] + kept
    for turn in range(2):
        for brain_id in order:
            await unloaded(own_redis, brain_id)  # by the recall before (or the filling)
            brain, parcels = filled[brain_id]
            n = 7 + turn
            recalled = await brain.recall(f"which locker holds parcel {n}", top_k=5)
            assert recalled, brain_id
            assert recalled[0][0].engram_id == parcels[n], (brain_id, recalled[0])
            assert {e.engram_id for e, _ in recalled} <= set(parcels)


async def a_quiet_round(redis: aioredis.Redis, ids: list[str]) -> bool:
    """Once every brain's work is done and one brain is left loaded: whether no other brain
    was loaded again while each loaded actor of that one beat twice or so (15 heartbeat
    periods or more)."""
    states: list[bool] = []

    async def one_left_and_no_work() -> bool:
        states[:] = [await loaded(redis, b) for b in ids]
        return states.count(True) == 1 and all([await settled(redis, b) for b in ids])

    await eventually(one_left_and_no_work, within=60)
    kept = ids[states.index(True)]
    others = [b for b in ids if b != kept]
    before = [await beats_written(redis, b) for b in others]
    beats = await beats_written(redis, kept)
    last = {beat.region: beat.stopped for beat in await heartbeats(redis, kept)}
    actors = sum(not stopped for stopped in last.values())  # regions load one by one

    async def a_round_passed_or_a_brain_loaded() -> bool:
        return (
            await beats_written(redis, kept) >= beats + 2 * actors
            or [await beats_written(redis, b) for b in others] != before
        )

    await eventually(a_round_passed_or_a_brain_loaded, within=60)
    return [await beats_written(redis, b) for b in others] == before


async def test_idle_brains_stay_out_of_a_full_cache(
    serve_every_brain: RegionsFactory, clients: ClientFactory, own_redis: aioredis.Redis
) -> None:
    """Once unloaded, an idle brain is not loaded again: the last heartbeats its unloading
    writes must not wake its SleepCycle, which would load it (and so every brain past the
    cache was loaded and unloaded dozens of times a second, forever). Sweeps run every 0.5 s;
    the runner's time is counted by the beats of the one brain it keeps loaded. A lane woken
    just before its brain was unloaded loads it once more: the first round may see that."""
    await serve_every_brain(
        *("--index-cache-engrams", str(CACHE_ENGRAMS)),
        *("--claim-idle-ms", "1000", "--heartbeat-seconds", "0.25"),
    )
    ids = list(await fill(clients, [f"idle-{n}" for n in range(3)]))
    quiet = [await a_quiet_round(own_redis, ids) for _ in range(3)]
    assert True in quiet, "an unloaded brain was loaded again in every round"


TEST_CLIENT = "neurram-test"  # the name of every connection of this test to the server
# A runner's connections: one per lane worker at most (a poll sends one command at a time),
# plus its doorbell, sweep and housekeeping loops and a little room; none per brain.
CONNECTIONS = len(ACTORS) * Settings().lanes + 8


async def runner_connections(own_redis_url: str) -> int:
    """Connections to the server not made by this test: the runner's."""
    async with aioredis.from_url(own_redis_url, client_name=TEST_CLIENT) as admin:
        return sum(1 for c in await admin.client_list() if c["name"] != TEST_CLIENT)


async def test_a_runners_connections_do_not_grow_with_its_brains(
    serve_every_brain: RegionsFactory, clients: ClientFactory, own_redis_url: str
) -> None:
    """After serving 5 brains at once, then 60 more at once: the runner holds fewer
    connections than ``CONNECTIONS`` (under 64), fewer than its 65 brains. (How many below
    that bound is the most commands it ever had in flight at once: it grows a little with
    the work seen, whatever the brains, so no finer comparison holds on a busy machine.)"""
    await serve_every_brain()
    url = f"{own_redis_url}?client_name={TEST_CLIENT}"

    async def serve(brain_id: str) -> None:
        brain = await clients(brain_id, redis_url=url)
        parcels = {parcel(brain_id, n) for n in range(5)}
        for content in parcels:
            await brain.perceive(content, wait=False)
        counts = await brain.flush()
        assert counts["held"] == len(parcels), counts
        recalled = await brain.recall("which locker holds the parcel", top_k=10)
        assert {engram.content for engram, _ in recalled} == parcels

    counts = []
    served: list[str] = []
    for fleet in (5, 60):
        ids = [f"conn-{fleet}-{n}" for n in range(fleet)]
        await asyncio.gather(*(serve(brain_id) for brain_id in ids))
        served += ids
        async with aioredis.from_url(url) as admin:
            await all_settled(admin, ids)  # nothing of theirs takes a connection afterwards
        counts.append(await runner_connections(own_redis_url))
    print(f"runner connections: {counts[0]} serving 5 brains, {counts[1]} serving 65")
    assert CONNECTIONS < 64
    assert all(count <= CONNECTIONS for count in counts), counts
    assert counts[1] < len(served)
