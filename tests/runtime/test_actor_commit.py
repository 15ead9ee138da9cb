"""An actor's commit acknowledges the deliveries it completes, in its own transaction, on a
real server: nothing acknowledged whose effects were not committed, nothing lost."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from neurram.bus import FIELD, Delivery, Namespace, publish
from neurram.bus.messages import MESSAGES, Message, Stimulus
from neurram.runtime.actor import Actor, ActorContext
from neurram.settings import Settings

pytestmark = pytest.mark.asyncio


class Relay(Actor):
    """Passes stimuli on, acknowledging them with its commit; ``fault`` spoils the commit."""

    consumes = ("sensory",)
    emits = ("sensed",)
    fault: str | None = None

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        pipe = self.store.pipeline()
        for delivery in batch:
            self.emit(pipe, "sensed", delivery.message)
        self.spoil(pipe)
        await self.commit(pipe, batch)

    def spoil(self, pipe: Pipeline) -> None:
        if self.fault == "aborted":  # refused when queued: EXEC runs nothing
            pipe.execute_command("NO.SUCH.COMMAND")
        elif self.fault == "failed":  # fails when run: the rest of the transaction runs
            pipe.hincrby(self.ns.key("not-a-hash"), "n", 1)


async def relay(redis: aioredis.Redis, brain_id: str, fault: str | None = None) -> Relay:
    settings = Settings.load(brain_id=brain_id, model="hash")
    actor = Relay(ActorContext(settings, redis, "relay", "test-host"))
    actor.fault = fault
    await redis.set(actor.ns.key("not-a-hash"), "a string")
    sent = Stimulus(stimulus_id="s1", content="the lake at dawn", perceived_at=time.time())
    await publish(redis, actor.stream("sensory"), MESSAGES.encode(sent))
    return actor


async def xack_calls(redis: aioredis.Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_xack", {}).get("calls", 0))


async def pending(redis: aioredis.Redis, ns: Namespace) -> int:
    summary = await redis.xpending(ns.key("sensory"), "relay")
    return int(summary["pending"])


async def test_a_commit_acknowledges_its_deliveries_in_its_transaction(
    redis: aioredis.Redis, brain_id: str
) -> None:
    actor = await relay(redis, brain_id)
    consumer = actor.consumer()
    await consumer.ensure_groups()
    before = await xack_calls(redis)
    assert await consumer.poll() == 1
    assert await pending(redis, actor.ns) == 0
    assert await xack_calls(redis) - before == 1  # the commit's; the consumer sent none
    assert consumer.stats.handled == 1
    assert await redis.xlen(actor.stream("sensed")) == 1


async def test_an_aborted_commit_acknowledges_nothing(redis: aioredis.Redis, brain_id: str) -> None:
    actor = await relay(redis, brain_id, fault="aborted")
    consumer = actor.consumer()
    await consumer.ensure_groups()
    assert await consumer.poll() == 1
    assert await pending(redis, actor.ns) == 1  # left for a retry
    assert await redis.xlen(actor.stream("sensed")) == 0
    assert consumer.stats.failed == 1


async def test_a_commit_failing_inside_its_transaction_moves_its_deliveries_to_dead(
    redis: aioredis.Redis, brain_id: str
) -> None:
    actor = await relay(redis, brain_id, fault="failed")
    consumer = actor.consumer()
    await consumer.ensure_groups()
    assert await consumer.poll() == 1
    assert await pending(redis, actor.ns) == 0  # the ACK ran with the transaction
    [(_, dead)] = await redis.xrange(actor.stream("dead"))
    assert dead[b"entry_id"] and dead[b"group"] == b"relay"
    assert b"WRONGTYPE" in dead[b"reason"]
    [(_, sent)] = await redis.xrange(actor.stream("sensory"))
    assert MESSAGES.decode(dead[b"payload"]) == MESSAGES.decode(sent[FIELD])
