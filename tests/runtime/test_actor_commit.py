"""An actor's commit acknowledges the deliveries it completes, in its own transaction, on a
real server: nothing acknowledged whose effects were not committed, nothing lost."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from neurram.bus import FIELD, Delivery, Namespace, publish
from neurram.bus.lanes import HandOff
from neurram.bus.messages import MESSAGES, Message, Outcome, Stimulus
from neurram.bus.tally import read_tally, tally_key
from neurram.encoder import HashEncoder
from neurram.runtime.actor import Actor, ActorContext
from neurram.runtime.encoding import EncodingQueue
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
    actor = Relay(ActorContext(settings, redis, "relay", "test-host", EncodingQueue(HashEncoder())))
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


class Gate(Actor):
    """Reports every stimulus as gated to its sender's tally."""

    consumes = ("sensory",)
    emits = ("outcome",)

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        pipe = self.store.pipeline()
        for delivery in batch:
            assert isinstance(delivery.message, Stimulus)
            outcome = Outcome(request_id=delivery.message.stimulus_id, status="gated")
            self.report(pipe, outcome, delivery.message.reply_to)
        await self.commit(pipe, batch)


async def calls(redis: aioredis.Redis, *commands: str) -> dict[str, int]:
    stats = await redis.info("commandstats")
    return {c: int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in commands}


async def test_a_commit_publishes_and_counts_its_outcomes_once_per_status_and_tally(
    redis: aioredis.Redis, brain_id: str
) -> None:
    settings = Settings.load(brain_id=brain_id, model="hash")
    actor = Gate(ActorContext(settings, redis, "gate", "test-host", EncodingQueue(HashEncoder())))
    tally = tally_key(actor.ns, "client")
    for i in range(3):
        sent = Stimulus(stimulus_id=f"s{i}", content="x", perceived_at=time.time(), reply_to=tally)
        await publish(redis, actor.stream("sensory"), MESSAGES.encode(sent))
    consumer = actor.consumer()
    await consumer.ensure_groups()
    before = await calls(redis, "hincrby", "expire", "xtrim", "eval")
    assert await consumer.poll() == 3
    after = await calls(redis, "hincrby", "expire", "xtrim", "eval")
    counted = {c: after[c] - before[c] for c in after}
    assert counted == {"hincrby": 2, "expire": 1, "xtrim": 1, "eval": 1}  # 3 outcomes: 1 eval
    assert await read_tally(redis, tally) == {"gated": 3}
    assert (await actor.store.outcome_counts())["gated"] == 3
    assert await redis.xlen(actor.stream("outcome")) == 3


class Bell:
    def __init__(self) -> None:
        self.rung: list[set[str]] = []

    async def ring(self, brain: str, streams: set[str]) -> None:
        self.rung.append(set(streams))

    def hand_offs(self, brain: str, streams: set[str]) -> list[HandOff]:
        return []


async def test_messages_emitted_together_go_as_one_command_in_order(
    redis: aioredis.Redis, brain_id: str
) -> None:
    settings = Settings.load(brain_id=brain_id, model="hash")
    bell = Bell()
    context = ActorContext(
        settings, redis, "relay", "test-host", EncodingQueue(HashEncoder()), bell=bell
    )
    actor = Relay(context)
    sent = [Stimulus(stimulus_id=f"s{i}", content="x", perceived_at=1.0) for i in range(5)]
    pipe = actor.store.pipeline()
    actor.emit_all(pipe, "sensed", sent)
    actor.emit_all(pipe, "sensed", sent[:1])
    actor.emit_all(pipe, "outcome", [])
    assert len(pipe.command_stack) == 2
    await actor.commit(pipe)
    entries = await redis.xrange(actor.stream("sensed"))
    received = [MESSAGES.decode(fields[FIELD]) for _, fields in entries]
    assert [m.stimulus_id for m in received if isinstance(m, Stimulus)] == [
        "s0",
        "s1",
        "s2",
        "s3",
        "s4",
        "s0",
    ]
    assert bell.rung == [{"sensed"}]
    assert not await redis.exists(actor.stream("outcome"))
