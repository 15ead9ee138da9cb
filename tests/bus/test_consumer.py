"""StreamConsumer against a real server: acks, retries, dead letters, claims, groups."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from neurram.bus import Codec, Delivery, Namespace, StreamConsumer, publish
from neurram.bus.codec import FIELD

pytestmark = pytest.mark.asyncio


class Note(msgspec.Struct):
    n: int


CODEC = Codec(Note)


class Recorder:
    """A handler that records every call and raises when ``fails(delivery)`` says so."""

    def __init__(self, fails: Callable[[Delivery[Note]], bool] = lambda d: False) -> None:
        self.fails = fails
        self.calls: list[list[Delivery[Note]]] = []
        self.done: list[Delivery[Note]] = []

    async def __call__(self, batch: list[Delivery[Note]]) -> None:
        self.calls.append(batch)
        if any(self.fails(d) for d in batch):
            raise RuntimeError("handler failed on purpose")
        self.done.extend(batch)

    def seen(self, n: int) -> list[Delivery[Note]]:
        return [d for batch in self.calls for d in batch if d.message.n == n]


async def until(predicate: Callable[[], Any], seconds: float = 5.0) -> None:
    """Poll an (async or plain) condition until true, failing after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def make(
    redis: aioredis.Redis, ns: Namespace, handler: Any, **options: Any
) -> StreamConsumer[Note]:
    settings: dict[str, Any] = {
        "streams": [ns.key("in")],
        "group": "g",
        "consumer": "c1",
        "dead_stream": ns.key("dead"),
        **options,
    }
    return StreamConsumer(redis=redis, codec=CODEC, handler=handler, **settings)


async def drive(consumer: StreamConsumer[Note], stop: asyncio.Event) -> None:
    """Poll ``consumer`` until ``stop``, pausing briefly whenever it finds nothing."""
    while not stop.is_set():
        if not await consumer.poll():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(*consumers: StreamConsumer[Note]) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    for consumer in consumers:
        await consumer.ensure_groups()
    tasks = [asyncio.create_task(drive(c, stop)) for c in consumers]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)


async def send(redis: aioredis.Redis, stream: str, *ns: int) -> None:
    for n in ns:
        await publish(redis, stream, CODEC.encode(Note(n)))


async def pending(redis: aioredis.Redis, stream: str, group: str = "g") -> int:
    summary: dict[str, Any] = await redis.xpending(stream, group)
    return int(summary["pending"])


async def dead_entries(redis: aioredis.Redis, ns: Namespace) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in await redis.xrange(ns.key("dead"))]


@pytest.fixture
def ns(brain_id: str) -> Namespace:
    return Namespace(brain_id)


async def test_handles_a_batch_and_acks_it(redis: aioredis.Redis, ns: Namespace) -> None:
    handler = Recorder()
    consumer = make(redis, ns, handler)
    await consumer.ensure_groups()
    await send(redis, ns.key("in"), 1, 2, 3)
    async with running(consumer):
        await until(lambda: consumer.stats.handled == 3)
    assert [[d.message.n for d in batch] for batch in handler.calls] == [[1, 2, 3]]
    assert not any(d.redelivered for d in handler.done)
    assert await pending(redis, ns.key("in")) == 0
    assert consumer.stats.last_handled_at is not None


async def test_works_over_resp3(redis_url: str, ns: Namespace) -> None:
    client = aioredis.from_url(redis_url, protocol=3)
    handler = Recorder()
    consumer = make(client, ns, handler)
    await consumer.ensure_groups()
    await send(client, ns.key("in"), 1, 2)
    async with running(consumer):
        await until(lambda: consumer.stats.handled == 2)
        await send(client, ns.key("in"), 3)
        await until(lambda: consumer.stats.handled == 3)
    assert [d.message.n for d in handler.done] == [1, 2, 3]
    await client.aclose()


async def test_failed_entries_are_redelivered_until_they_succeed(
    redis: aioredis.Redis, ns: Namespace
) -> None:
    failures = {1: 2}  # n=1 fails twice: once in the batch, once retried alone

    def fails(d: Delivery[Note]) -> bool:
        left = failures.get(d.message.n, 0)
        failures[d.message.n] = left - 1
        return left > 0

    handler = Recorder(fails)
    consumer = make(redis, ns, handler)
    await consumer.ensure_groups()
    await send(redis, ns.key("in"), 1, 2)
    async with running(consumer):
        await until(lambda: consumer.stats.handled == 2)
    assert [d.redelivered for d in handler.seen(1)] == [False, False, True]
    assert [d.message.n for d in handler.done] == [2, 1]
    assert consumer.stats.failed == 1
    assert consumer.stats.redelivered == 1
    assert await pending(redis, ns.key("in")) == 0


async def test_poison_entry_goes_dead_after_max_deliveries(
    redis: aioredis.Redis, ns: Namespace
) -> None:
    handler = Recorder(lambda d: d.message.n == 1)
    consumer = make(redis, ns, handler, max_deliveries=3)
    async with running(consumer):
        await send(redis, ns.key("in"), 1)
        await until(lambda: consumer.stats.dead == 1)
        await send(redis, ns.key("in"), 2)
        await until(lambda: consumer.stats.handled == 1)
    assert len(handler.seen(1)) == 3
    [dead] = await dead_entries(redis, ns)
    assert dead[b"reason"] == b"failed 3 deliveries"
    assert dead[b"group"] == b"g"
    assert dead[b"stream"] == ns.key("in").encode()
    assert CODEC.decode(dead[b"payload"]) == Note(1)
    assert await pending(redis, ns.key("in")) == 0


async def test_undecodable_entry_goes_dead_at_once(redis: aioredis.Redis, ns: Namespace) -> None:
    handler = Recorder()
    consumer = make(redis, ns, handler)
    await consumer.ensure_groups()
    await publish(redis, ns.key("in"), b"\xc1")
    await send(redis, ns.key("in"), 7)
    async with running(consumer):
        await until(lambda: consumer.stats.handled == 1)
    assert [d.message.n for d in handler.done] == [7]
    [dead] = await dead_entries(redis, ns)
    assert dead[b"reason"].startswith(b"undecodable")
    assert dead[b"payload"] == b"\xc1"
    assert await pending(redis, ns.key("in")) == 0


async def test_reclaims_entries_of_a_dead_consumer(redis: aioredis.Redis, ns: Namespace) -> None:
    handler = Recorder()
    consumer = make(redis, ns, handler, consumer="c2", claim_idle_ms=100)
    await consumer.ensure_groups()
    await send(redis, ns.key("in"), 1, 2)
    await redis.xreadgroup("g", "crashed", {ns.key("in"): ">"})  # read, never acked
    async with running(consumer):
        await until(lambda: consumer.stats.handled == 2)
    assert all(d.redelivered for d in handler.done)
    assert await pending(redis, ns.key("in")) == 0


async def test_each_group_sees_every_message(redis: aioredis.Redis, ns: Namespace) -> None:
    first, second = Recorder(), Recorder()
    consumers = [make(redis, ns, first, group="g1"), make(redis, ns, second, group="g2")]
    async with running(*consumers):
        await send(redis, ns.key("in"), *range(10))
        await until(lambda: len(first.done) == 10 and len(second.done) == 10)
    assert sorted(d.message.n for d in first.done) == list(range(10))
    assert sorted(d.message.n for d in second.done) == list(range(10))


async def test_consumers_of_one_group_split_the_work(redis: aioredis.Redis, ns: Namespace) -> None:
    b_handled = asyncio.Event()

    async def slow_a(batch: list[Delivery[Note]]) -> None:
        await b_handled.wait()  # hold the first entry until b has taken some of the rest
        a.done.extend(batch)

    async def b_handler(batch: list[Delivery[Note]]) -> None:
        await b.__call__(batch)
        b_handled.set()

    a, b = Recorder(), Recorder()
    consumer_a = make(redis, ns, slow_a, consumer="a", batch_size=1)
    consumer_b = make(redis, ns, b_handler, consumer="b", batch_size=1)
    await consumer_a.ensure_groups()
    async with running(consumer_a):
        await send(redis, ns.key("in"), 0)
        await until(lambda: pending(redis, ns.key("in")))  # a holds entry 0
        await send(redis, ns.key("in"), *range(1, 6))
        async with running(consumer_b):
            await until(lambda: len(a.done) + len(b.done) == 6)
    got_a = {d.message.n for d in a.done}
    got_b = {d.message.n for d in b.done}
    assert got_a and got_b and not got_a & got_b
    assert got_a | got_b == set(range(6))


async def test_a_poll_with_nothing_to_do_takes_nothing(
    redis: aioredis.Redis, ns: Namespace
) -> None:
    handler = Recorder()
    consumer = make(redis, ns, handler)
    await consumer.ensure_groups()
    assert await consumer.poll() == 0
    assert consumer.next_due() is None  # nothing of its own is pending
    await send(redis, ns.key("in"), 1, 2)
    assert await consumer.poll() == 2
    assert await consumer.poll() == 0
    assert [d.message.n for d in handler.done] == [1, 2]


async def test_a_failed_batch_is_due_again_after_a_backoff(
    redis: aioredis.Redis, ns: Namespace
) -> None:
    handler = Recorder(lambda d: True)
    consumer = make(redis, ns, handler)
    await consumer.ensure_groups()
    await send(redis, ns.key("in"), 1)
    assert await consumer.poll() == 1
    due = consumer.next_due()
    assert due is not None and due > time.monotonic()
    assert await pending(redis, ns.key("in")) == 1


async def produce_and_read_for(
    redis: aioredis.Redis, ns: Namespace, consumer: StreamConsumer[Note], *ns_: int
) -> Any:
    """Add notes ``ns_`` and read the consumer's batch in one transaction; the read's reply."""
    await consumer.ensure_groups()
    pipe = redis.pipeline(transaction=True)
    for n in ns_:
        pipe.xadd(ns.key("in"), {FIELD: CODEC.encode(Note(n))})
    consumer.stage_read(pipe)
    return (await pipe.execute())[-1]


async def test_a_batch_read_by_its_producer_is_handled_without_a_read(
    redis: aioredis.Redis, ns: Namespace
) -> None:
    handler = Recorder()
    consumer = make(redis, ns, handler)
    consumer.hand([await produce_and_read_for(redis, ns, consumer, 1, 2)])
    await send(redis, ns.key("in"), 3)
    assert await consumer.poll() == 2  # the batch handed over: a read would have taken 3
    assert await consumer.poll() == 1
    assert [[d.message.n for d in batch] for batch in handler.calls] == [[1, 2], [3]]
    assert await pending(redis, ns.key("in")) == 0


async def test_a_batch_read_for_a_consumer_whose_reply_was_lost_is_read_again(
    redis: aioredis.Redis, ns: Namespace
) -> None:
    handler = Recorder()
    consumer = make(redis, ns, handler)
    await produce_and_read_for(redis, ns, consumer, 1)
    consumer.hand(None)  # the producer's transaction ran, its reply never came
    assert await consumer.poll() == 1
    assert [d.message.n for d in handler.done] == [1]
    assert handler.done[0].redelivered
    assert await pending(redis, ns.key("in")) == 0
