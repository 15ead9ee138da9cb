"""ReplyInbox request/reply and the read-only tail."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from neurram.bus import Codec, Namespace, ReplyInbox, publish, reply, stage_reply, tail
from tests.conftest import eventually


class Answer(msgspec.Struct):
    request_id: str
    value: int


CODEC = Codec(Answer)


async def test_reply_inbox_resolves_by_request_id(redis: aioredis.Redis, brain_id: str) -> None:
    stream = Namespace(brain_id).key("reply", "client1")
    inbox = ReplyInbox(redis, stream, CODEC, lambda a: a.request_id)
    await inbox.start()
    inbox.expect("r1")
    pipe = redis.pipeline()
    stage_reply(pipe, stream, CODEC.encode(Answer("unknown", 0)))
    stage_reply(pipe, stream, CODEC.encode(Answer("r1", 42)), ttl_seconds=60)
    await pipe.execute()
    assert 0 < await redis.ttl(stream) <= 60
    assert await inbox.wait("r1", timeout=5) == Answer("r1", 42)
    await inbox.close()
    assert await redis.exists(stream) == 0


async def test_a_waiter_goes_on_before_the_inbox_reads_again(
    redis: aioredis.Redis, brain_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller waiting for a reply resumes before the inbox writes its next read (whose
    round trip would otherwise come first)."""
    stream = Namespace(brain_id).key("reply", "c")
    inbox = ReplyInbox(redis, stream, CODEC, lambda a: a.request_id)
    reads: list[str] = []
    read_after = inbox._xread_after
    monkeypatch.setattr(inbox, "_xread_after", lambda last: reads.append(last) or read_after(last))
    await inbox.start()
    inbox.expect("r1")
    await publish(redis, stream, CODEC.encode(Answer("r1", 1)))
    assert await inbox.wait("r1", timeout=5) == Answer("r1", 1)
    assert reads == ["0-0"]  # the read that brought the reply; none since
    await inbox.close()


async def test_reply_inbox_times_out(redis: aioredis.Redis, brain_id: str) -> None:
    inbox = ReplyInbox(redis, Namespace(brain_id).key("reply", "c"), CODEC, lambda a: a.request_id)
    await inbox.start()
    inbox.expect("never")
    with pytest.raises(TimeoutError, match="never"):
        await inbox.wait("never", timeout=0.05)
    await inbox.close()


async def test_reply_inbox_returns_many_replies_in_the_order_asked(
    redis: aioredis.Redis, brain_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reply, "TRIM_EVERY", 4)
    stream = Namespace(brain_id).key("reply", "c")
    inbox = ReplyInbox(redis, stream, CODEC, lambda a: a.request_id)
    await inbox.start()
    for request_id in ("a", "b", "c"):
        inbox.expect(request_id)
    for answer in (Answer("c", 3), Answer("a", 1), Answer("b", 2)):
        await publish(redis, stream, CODEC.encode(answer))
    assert await inbox.wait_all(["a", "b", "c"], timeout=5) == [
        Answer("a", 1),
        Answer("b", 2),
        Answer("c", 3),
    ]

    async def trimmed() -> bool:  # every reply read but the last one
        return await redis.xlen(stream) == 1

    await publish(redis, stream, CODEC.encode(Answer("late", 0)))  # the 4th read
    await eventually(trimmed)
    inbox.expect("d")
    with pytest.raises(TimeoutError, match="request e "):  # "d" came, "e" never does
        waiting = asyncio.create_task(inbox.wait_all(["d", "e"], timeout=0.05))
        await publish(redis, stream, CODEC.encode(Answer("d", 4)))
        await waiting
    assert inbox._waiting == {}  # nothing left behind
    await inbox.close()


async def test_tail_sees_new_entries_without_touching_groups(
    redis: aioredis.Redis, brain_id: str
) -> None:
    stream = Namespace(brain_id).key("sensory")
    await publish(redis, stream, b"old")
    entries = tail(redis, [stream], block_ms=200)
    first = asyncio.ensure_future(anext(entries))
    deadline = time.monotonic() + 5
    while not await _blocked_clients(redis):  # tail has pinned "$" and is waiting
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    entry_id = await publish(redis, stream, b"new")
    assert await asyncio.wait_for(first, 5) == (stream, entry_id, {b"m": b"new"})
    await entries.aclose()
    assert await redis.xinfo_groups(stream) == []


async def _blocked_clients(redis: aioredis.Redis) -> bool:
    info: dict[str, Any] = await redis.info("clients")
    return int(info["blocked_clients"]) > 0
