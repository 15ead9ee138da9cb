"""Faults on a real server: killed regions, poison messages, a server restart, an outage."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from neurram import Brain, BrainUnavailableError, Layer, MemoryType
from neurram.bus import FIELD, Namespace
from neurram.bus.messages import MESSAGES, Outcome
from neurram.runtime.embedded import EmbeddedServer
from neurram.runtime.store import MemoryStore

from ..conftest import BrainFactory, eventually
from .conftest import RegionsFactory, outcomes

pytestmark = pytest.mark.e2e

STIMULI = 2000


async def test_kill_9_during_ingest_loses_and_duplicates_nothing(
    start_regions: RegionsFactory, redis_url: str, brain_id: str, redis: aioredis.Redis
) -> None:
    first = await start_regions("--claim-idle-ms", "2000", "--batch-size", "16")
    store = MemoryStore(redis, Namespace(brain_id))
    async with await Brain.create(
        redis_url=redis_url, brain_id=brain_id, run_regions=False
    ) as brain:
        sent: list[str] = []

        async def ingest() -> None:
            for i in range(STIMULI):
                engram = await brain.perceive(f"load test fact {i} about item {i}", wait=False)
                sent.append(engram.engram_id)

        ingesting = asyncio.create_task(ingest())

        async def some_stored() -> bool:
            return await store.count() >= 200

        await eventually(some_stored, within=60)
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        assert await store.count() < STIMULI  # killed mid-way: the rest is up to the next one
        await start_regions("--claim-idle-ms", "2000")  # meanwhile the ingest is held back
        await ingesting

        async def all_decided() -> bool:
            return set(sent) <= set(await outcomes(redis, brain_id))

        await eventually(all_decided, within=120)

    statuses = await outcomes(redis, brain_id)
    engrams = await store.all()
    held = {i for i in sent if "held" in statuses[i]}
    dropped = {i for i in sent if statuses[i] & {"expired", "gated"}}
    print(
        f"kill -9 ingest: sent {len(sent)}, engrams {len(engrams)}, expired/gated {len(dropped)}, "
        f"lost {len(set(sent) - held - dropped)}, "
        f"duplicated {len(engrams) - len({e.content for e in engrams})}"
    )
    assert len(sent) == STIMULI
    assert held | dropped == set(sent)  # nothing lost
    assert not held & dropped  # a stimulus has one fate
    assert sorted(e.engram_id for e in engrams) == sorted(held)  # exactly one engram each
    assert len({e.content for e in engrams}) == len(engrams)  # no duplicate memory


async def test_poison_messages_are_dead_lettered_and_the_actor_goes_on(
    make_brain: BrainFactory, redis: aioredis.Redis
) -> None:
    brain = await make_brain()
    ns = Namespace(brain.settings.brain_id)
    await redis.xadd(ns.key("sensory"), {FIELD: b"\xc1 not msgpack"})
    await redis.xadd(
        ns.key("sensory"), {FIELD: MESSAGES.encode(Outcome(request_id="x", status="held"))}
    )
    await redis.xadd(ns.key("sensory"), {b"other": b"field"})
    engram = await brain.perceive("The plant needs water on Fridays")
    assert engram.layer is Layer.WORKING

    async def buried() -> bool:
        return await redis.xlen(ns.key("dead")) == 3

    await eventually(buried)
    reasons = [fields[b"reason"].decode() for _, fields in await redis.xrange(ns.key("dead"))]
    assert all(r.startswith("undecodable") for r in reasons[:1]), reasons
    assert all(r for r in reasons)


@pytest.fixture
async def own_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    """A server of the test's own, which the test may stop and start again."""
    server = EmbeddedServer(Path(tmp_path_factory.mktemp("srv", numbered=True)))
    server.start()
    yield server
    server.stop()


async def test_long_term_memory_survives_a_server_restart(
    own_server: EmbeddedServer, brain_id: str
) -> None:
    async with await Brain.create(
        redis_url=own_server.url, brain_id=brain_id, model="hash"
    ) as brain:
        habit = await brain.perceive("Prefers tea", memory_type=MemoryType.HABITUAL, reward=0.8)
        fact = await brain.perceive(
            "Water boils at 100 C", memory_type=MemoryType.SEMANTIC, salience=0.9
        )
        assert (await brain.sleep())["consolidated"] == 1
        before = {e.engram_id: e.layer for e in await brain.engrams()}
    own_server.stop()
    own_server.start()
    async with await Brain.create(
        redis_url=own_server.url, brain_id=brain_id, model="hash"
    ) as brain:
        after = {e.engram_id: e.layer for e in await brain.engrams()}
        assert (
            after == before == {habit.engram_id: Layer.LONG_TERM, fact.engram_id: Layer.LONG_TERM}
        )
        assert (await brain.recall("Prefers tea"))[0][0].engram_id == habit.engram_id


async def test_calls_fail_fast_while_the_server_is_down_and_recover(
    own_server: EmbeddedServer, brain_id: str
) -> None:
    async with await Brain.create(
        redis_url=own_server.url, brain_id=brain_id, model="hash"
    ) as brain:
        await brain.perceive("Before the outage")
        own_server.stop()
        started = time.monotonic()
        with pytest.raises(BrainUnavailableError):
            await brain.perceive("During the outage")
        with pytest.raises(BrainUnavailableError):
            await brain.recall("outage")
        assert time.monotonic() - started < 5
        own_server.start()

        async def recovered() -> bool:
            try:
                engram = await brain.perceive("After the outage")
            except BrainUnavailableError:
                return False
            return engram.layer is Layer.WORKING

        await eventually(recovered, within=30)
        contents = {e.content for e, _ in await brain.recall("the outage", top_k=5)}
        assert {"Before the outage", "After the outage"} <= contents
        assert "During the outage" not in {e.content for e in await brain.engrams()}


async def test_create_fails_fast_without_a_server(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(BrainUnavailableError, match="cannot reach Redis"):
        await Brain.create(redis_url=f"unix://{tmp_path}/nothing.sock", model="hash")
    assert time.monotonic() - started < 5
    assert os.listdir(tmp_path) == []


async def test_sigterm_finishes_in_flight_work_and_leaves_the_rest(
    start_regions: RegionsFactory, redis_url: str, brain_id: str, redis: aioredis.Redis
) -> None:
    # stimuli left unread wait for the next process: a long TTL keeps them (this test is
    # about what a stop leaves, not about expiry)
    ttl = ("--sensory-ttl-seconds", "600")
    first = await start_regions("--batch-size", "8", *ttl)
    store = MemoryStore(redis, Namespace(brain_id))
    async with await Brain.create(
        redis_url=redis_url, brain_id=brain_id, run_regions=False
    ) as brain:
        sent = [
            (await brain.perceive(f"fact {i} of the stop test", wait=False)).engram_id
            for i in range(STIMULI // 2)
        ]

        async def some_stored() -> bool:
            return await store.count() >= 50

        await eventually(some_stored, within=60)
        first.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(first.wait(), 30) == 0
        for stream in ("sensory", "sensed", "attended", "tagged", "held"):
            for group in await redis.xinfo_groups(Namespace(brain_id).key(stream)):
                assert group["pending"] == 0, (stream, group)  # in-flight work was ACKed
        assert await store.count() < len(sent)  # the rest waits for the next process
        await start_regions(*ttl)

        async def all_decided() -> bool:
            return set(sent) <= set(await outcomes(redis, brain_id))

        await eventually(all_decided, within=120)
    assert sorted(e.engram_id for e in await store.all()) == sorted(sent)


async def test_streams_are_trimmed_but_never_past_an_unacknowledged_entry(
    make_brain: BrainFactory, redis: aioredis.Redis
) -> None:
    brain = await make_brain(heartbeat_seconds=0.05, batch_size=16)
    ns = Namespace(brain.settings.brain_id)
    await redis.xgroup_create(ns.key("held"), "laggard", id="0", mkstream=True)  # reads nothing
    for i in range(600):
        await brain.perceive(f"bounded fact {i}", wait=False)
    await brain.perceive("the last one")

    async def trimmed() -> bool:
        return await redis.xlen(ns.key("sensory")) < 200

    await eventually(trimmed, within=30)
    assert await redis.xlen(ns.key("held")) == 601  # the laggard group still needs every entry


async def test_perceive_without_waiting_is_throttled_by_the_backlog(
    start_regions: RegionsFactory, redis_url: str, brain_id: str, redis: aioredis.Redis
) -> None:
    async with await Brain.create(  # no TTL: the count bound alone holds the producer back
        redis_url=redis_url,
        brain_id=brain_id,
        run_regions=False,
        max_backlog=300,
        sensory_ttl_seconds=math.inf,
    ) as brain:
        sent: list[str] = []

        async def ingest() -> None:
            for i in range(1000):
                sent.append((await brain.perceive(f"throttled fact {i}", wait=False)).engram_id)

        ingesting = asyncio.create_task(ingest())

        async def stalled() -> bool:
            return await brain.backlog() > 300

        await eventually(stalled)  # no region runs: the backlog only grows, until throttled
        await asyncio.sleep(0.5)  # give an unthrottled producer time to overrun the bound
        assert not ingesting.done()
        assert len(sent) <= 300 + 100  # max_backlog + one check interval
        await start_regions()
        await asyncio.wait_for(ingesting, 60)
        assert len(sent) == 1000


async def test_backpressure_holds_several_clients_against_regions_in_another_process(
    start_regions: RegionsFactory, redis_url: str, brain_id: str
) -> None:
    slow = {"sensory_cortex": "tests.custom_regions:SlowSensoryCortex"}  # 250 stimuli/s
    await start_regions("--regions", json.dumps(slow), "--sensory-ttl-seconds", "1.5")
    per_client = 400  # unthrottled, the last of 800 would wait about 3 s

    async def produce(n: int) -> dict[str, int]:
        async with await Brain.create(
            redis_url=redis_url, brain_id=brain_id, run_regions=False, sensory_ttl_seconds=1.5
        ) as brain:
            for i in range(per_client):
                await brain.perceive(
                    f"client {n} fact {i}: item {i} weighs {i % 97} kg", wait=False
                )
            return await brain.flush()

    counts = await asyncio.gather(produce(0), produce(1))
    assert counts == [{"held": per_client, "stored": 0, "gated": 0, "expired": 0}] * 2
