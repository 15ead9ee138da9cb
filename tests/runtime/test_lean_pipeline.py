"""Lean pipelines: one write, and the replies, errors and retries redis-py's pipelines give."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError, WatchError

from neurram.runtime.packing import LeanPipeline, client_from_url


@pytest.fixture
async def lean(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = client_from_url(redis_url)
    yield client
    await client.aclose()


def writes(client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the writes of ``client``'s connections (connected already: a connection's
    handshake is writes of its own)."""
    sent: list[int] = []
    connection_class = client.connection_pool.connection_class
    send = connection_class.send_packed_command

    async def counted(self: Any, command: Any, check_health: bool = True) -> None:
        sent.append(1)
        await send(self, command, check_health)

    monkeypatch.setattr(connection_class, "send_packed_command", counted)
    return sent


def staged(key: str) -> Callable[[Pipeline], None]:
    """Commands whose replies redis-py's callbacks shape (a dict, stream entries, a bool)."""

    def stage(pipe: Pipeline) -> None:
        pipe.hset(f"{key}:h", mapping={"a": 1, "b": "two"})
        pipe.hgetall(f"{key}:h")
        pipe.xadd(f"{key}:s", {"m": b"\x00\xff"}, id="1-1")
        pipe.xrange(f"{key}:s")
        pipe.expire(f"{key}:s", 60)
        pipe.zadd(f"{key}:z", {"x": 1.5})
        pipe.zrange(f"{key}:z", 0, -1, withscores=True)

    return stage


@pytest.mark.parametrize("transaction", [False, True])
async def test_replies_are_redis_pys_in_one_write(
    lean: aioredis.Redis,
    redis: aioredis.Redis,
    brain_id: str,
    transaction: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await lean.ping()
    sent = writes(lean, monkeypatch)
    pipe = lean.pipeline(transaction=transaction)
    assert isinstance(pipe, LeanPipeline)
    staged(f"{brain_id}:lean")(pipe)
    replies = await pipe.execute()
    assert len(sent) == 1 and pipe.command_stack == []
    plain = redis.pipeline(transaction=transaction)
    staged(f"{brain_id}:plain")(plain)
    assert replies == await plain.execute()
    assert replies[1] == {b"a": b"1", b"b": b"two"} and replies[6] == [(b"x", 1.5)]


@pytest.mark.parametrize("transaction", [False, True])
async def test_an_error_reply_is_raised_annotated_or_kept_in_its_place(
    lean: aioredis.Redis, brain_id: str, transaction: bool
) -> None:
    key = f"{brain_id}:string"
    await lean.set(key, "v")

    def stage() -> Pipeline:
        pipe = lean.pipeline(transaction=transaction)
        pipe.get(key)
        pipe.hset(key, "f", 1)  # the wrong type: refused as it runs
        pipe.strlen(key)
        return pipe

    with pytest.raises(ResponseError, match=r"Command # 2 \(HSET .*WRONGTYPE"):
        await stage().execute()
    first, error, last = await stage().execute(raise_on_error=False)
    assert (first, last) == (b"v", 1) and isinstance(error, ResponseError)
    assert await lean.get(key) == b"v"  # the connection reads no stale reply


async def test_a_transaction_refused_as_queued_raises_that_refusal(
    lean: aioredis.Redis, brain_id: str
) -> None:
    pipe = lean.pipeline(transaction=True)
    pipe.set(f"{brain_id}:k", "v")
    pipe.execute_command("HSET", f"{brain_id}:h")  # too few arguments: refused when queued
    with pytest.raises(ResponseError, match=r"Command # 2 \(HSET .*wrong number"):
        await pipe.execute()
    assert await lean.exists(f"{brain_id}:k") == 0  # EXEC was refused: nothing ran


async def test_a_watching_pipeline_is_redis_pys_and_sees_a_change(
    lean: aioredis.Redis, redis: aioredis.Redis, brain_id: str
) -> None:
    key = f"{brain_id}:watched"
    pipe = lean.pipeline(transaction=True)
    await pipe.watch(key)
    await redis.set(key, "changed")
    pipe.multi()
    pipe.set(key, "mine")
    with pytest.raises(WatchError):
        await pipe.execute()
    assert await lean.get(key) == b"changed"


async def test_a_dropped_connection_is_connected_again_and_the_pipeline_sent_again(
    lean: aioredis.Redis, redis: aioredis.Redis, brain_id: str
) -> None:
    own = await lean.client_id()  # the pool's one connection
    await redis.client_kill_filter(_id=own)
    pipe = lean.pipeline(transaction=False)
    pipe.incr(f"{brain_id}:n")
    pipe.incr(f"{brain_id}:n")
    assert await pipe.execute() == [1, 2]
    assert await lean.client_id() != own


async def test_a_cancelled_pipeline_leaves_its_connection_reading_no_stale_reply(
    lean: aioredis.Redis, brain_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await lean.ping()  # connected: its handshake's replies are read
    first_read = asyncio.Event()
    connection_class = lean.connection_pool.connection_class
    read = connection_class.read_response

    async def reading(self: Any, *args: Any, **kwargs: Any) -> Any:
        reply = await read(self, *args, **kwargs)
        first_read.set()
        return reply

    monkeypatch.setattr(connection_class, "read_response", reading)
    pipe = lean.pipeline(transaction=False)
    pipe.set(f"{brain_id}:k", "v")
    pipe.xread({f"{brain_id}:empty": "$"}, block=2000)  # waits until cancelled
    blocked = asyncio.create_task(pipe.execute())
    await first_read.wait()  # SET's reply read; XREAD's awaited
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    after = lean.pipeline(transaction=False)
    after.get(f"{brain_id}:k")
    after.strlen(f"{brain_id}:k")
    assert await after.execute() == [b"v", 1]
