"""Two runners serving every brain of their server share the work; one killed with -9 mid-ingest
loses and duplicates nothing: the survivor claims what the dead one held."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
import redis.asyncio as aioredis

from neurram import Brain
from neurram.bus import Namespace
from neurram.runtime import topology
from neurram.runtime.store import MemoryStore
from neurram.settings import Settings

from ..conftest import eventually
from .conftest import ClientFactory, RegionsFactory, consumer_prefix, heartbeats, outcomes

pytestmark = pytest.mark.e2e

BRAINS = 4
STIMULI = 500  # each
GROUPS = [  # (stream, group) of every region
    (stream, region)
    for region, cls in topology.select(Settings()).items()
    for stream in cls.consumes
]


async def held_by(redis: aioredis.Redis, ids: list[str], prefix: str) -> int:
    """Entries delivered to the consumers whose names start with ``prefix`` (one runner's)
    and not acknowledged, over every group of the brains ``ids``."""
    held = 0
    for brain_id in ids:
        for stream, group in GROUPS:
            key = Namespace(brain_id).key(stream)
            if not await redis.exists(key):
                continue
            made = {g["name"].decode() for g in await redis.xinfo_groups(key)}
            if group not in made:
                continue  # that region was never loaded for this brain
            summary = await redis.xpending(key, group)
            for consumer in summary["consumers"]:
                name = consumer["name"].decode()
                held += int(consumer["pending"]) if name.startswith(prefix) else 0
    return held


async def beats_from(redis: aioredis.Redis, ids: list[str], prefix: str) -> int:
    """Heartbeats of one runner's actors (consumer names start with ``prefix``) for the brains
    ``ids``."""
    return sum(
        [sum(b.consumer.startswith(prefix) for b in await heartbeats(redis, i)) for i in ids]
    )


async def worked(redis: aioredis.Redis, ids: list[str], prefix: str) -> bool:
    """Whether one runner's actors reported handling something for one of the brains."""
    for brain_id in ids:
        for beat in await heartbeats(redis, brain_id):
            if beat.consumer.startswith(prefix) and beat.handled > 0:
                return True
    return False


async def next_beat(redis: aioredis.Redis, ids: list[str], prefix: str) -> None:
    """Wait until one runner's actors beat again (it ran a heartbeat period)."""
    beats = await beats_from(redis, ids, prefix)

    async def it_beat() -> bool:
        return await beats_from(redis, ids, prefix) > beats

    await eventually(it_beat, within=60)


async def kill_holding_work(
    process: asyncio.subprocess.Process, redis: aioredis.Redis, ids: list[str], prefix: str
) -> int:
    """SIGKILL the runner ``process`` (consumer names starting with ``prefix``) frozen with
    SIGSTOP while it holds unacknowledged entries of the brains ``ids``: how many it held."""
    deadline = time.monotonic() + 60
    while True:
        process.send_signal(signal.SIGSTOP)
        if (held := await held_by(redis, ids, prefix)) > 0:
            process.send_signal(signal.SIGKILL)
            return held
        process.send_signal(signal.SIGCONT)
        assert time.monotonic() < deadline, "the runner never held work"
        await next_beat(redis, ids, prefix)


async def test_two_runners_share_brains_and_one_killed_mid_ingest_loses_nothing(
    serve_every_brain: RegionsFactory, clients: ClientFactory, own_redis: aioredis.Redis
) -> None:
    """Four brains ingest 500 stimuli each at once, served by two runners with no --brain;
    once both did work, the second is frozen while it holds unacknowledged entries, then
    killed with -9. Every stimulus gets exactly one fate and held ones exactly one engram;
    the dead runner's entries end up claimed by the survivor."""
    runners = [
        await serve_every_brain(
            *("--claim-idle-ms", "1000", "--heartbeat-seconds", "0.25", "--batch-size", "16")
        )
        for _ in range(2)
    ]
    survivor, victim = (consumer_prefix(runner) for runner in runners)
    ids = [f"scale-{n}" for n in range(BRAINS)]
    brains = [await clients(brain_id) for brain_id in ids]
    stores = [MemoryStore(own_redis, Namespace(brain_id)) for brain_id in ids]
    sent: dict[str, list[str]] = {brain_id: [] for brain_id in ids}

    async def ingest(brain: Brain) -> None:
        for i in range(STIMULI):
            fact = f"fact {i} of {brain.settings.brain_id}: item {i} weighs {i % 97} kg"
            sent[brain.settings.brain_id].append((await brain.perceive(fact, wait=False)).engram_id)

    ingesting = [asyncio.create_task(ingest(brain)) for brain in brains]

    async def both_runners_worked() -> bool:
        return await worked(own_redis, ids, survivor) and await worked(own_redis, ids, victim)

    await eventually(both_runners_worked, within=120)
    held = await kill_holding_work(runners[1], own_redis, ids, victim)
    assert await runners[1].wait() == -signal.SIGKILL
    assert sum([await store.count() for store in stores]) < BRAINS * STIMULI  # mid-ingest
    await asyncio.gather(*ingesting)
    for brain in brains:
        await brain.flush()

    async def all_decided() -> bool:
        return all([set(sent[b]) <= set(await outcomes(own_redis, b)) for b in ids])

    await eventually(all_decided, within=120)

    async def reclaimed() -> bool:  # by the survivor, once idle 1 s at the dead consumers
        return await held_by(own_redis, ids, victim) == 0

    await eventually(reclaimed, within=60)
    print(f"the killed runner held {held} entries")
    for brain_id, store in zip(ids, stores, strict=True):
        statuses = await outcomes(own_redis, brain_id)
        engrams = await store.all()
        kept = {i for i in sent[brain_id] if "held" in statuses[i]}
        dropped = {i for i in sent[brain_id] if statuses[i] & {"expired", "gated"}}
        print(f"{brain_id}: {STIMULI} sent, {len(engrams)} engrams, {len(dropped)} dropped")
        assert len(sent[brain_id]) == STIMULI
        assert kept | dropped == set(sent[brain_id])  # nothing lost
        assert not kept & dropped  # a stimulus has one fate
        assert sorted(e.engram_id for e in engrams) == sorted(kept)  # exactly one engram each
        assert len({e.content for e in engrams}) == len(engrams)  # no duplicate memory
