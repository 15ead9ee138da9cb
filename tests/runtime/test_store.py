"""The brain's state in Redis: compare-and-set writes, deletion everywhere, scans, change log."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import WatchError

from neurram.bus import Namespace
from neurram.engram import Engram, Layer, MemoryType, dump_engram, enc_hook, load_engram
from neurram.runtime.store import ChangeQuery, MemoryStore


def engram(engram_id: str, content: str = "x", **fields: object) -> Engram:
    return Engram(
        engram_id=engram_id, content=content, embedding=np.ones(4, np.float32) / 2, **fields
    )


async def save(store: MemoryStore, *engrams: Engram) -> None:
    await store.put(engrams)


async def test_a_stale_writer_neither_overwrites_nor_deletes(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    await save(store, engram("a"))
    seen = (await store.get_blobs(["a"]))["a"]
    recalled = engram("a", access_count=1)
    await save(store, recalled)  # a recall lands after the sleeper read "a"
    decayed = engram("a", synaptic_strength=0.5)
    assert await store.save_unchanged([(seen, decayed)]) == []
    assert await store.delete(["a"], unchanged={"a": seen}) == []
    kept = await store.get("a")
    assert kept is not None and kept.access_count == 1 and kept.synaptic_strength == 1.0


async def test_delete_removes_every_trace(redis: aioredis.Redis, brain_id: str) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    a = engram("a", "alpha", associations=[("b", 0.9)])
    b = engram("b", "beta", associations=[("a", 0.9)])
    await save(store, a, b)
    pipe = store.pipeline()
    store.stage_working_memory(pipe, ["a", "b"], now=1.0)
    store.stage_recent(pipe, ["a"], 5)
    await pipe.execute()
    assert await store.delete(["a", "missing"]) == ["a"]
    assert await store.get("a") is None
    assert await store.working_memory_ids() == ["b"]
    assert (await store.read_changes(ChangeQuery("0-0", recent=5))).recent == []
    assert (await store.read_holding([engram("z", "alpha")])).restated == []
    remaining = await store.get("b")
    assert remaining is not None and remaining.associations == []


async def test_scan_covers_everything_in_chunks(redis: aioredis.Redis, brain_id: str) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    await save(store, *(engram(f"e{i}", f"fact {i}") for i in range(1200)))
    chunks = [chunk async for chunk in store.scan(count=100)]
    assert len(chunks) > 1
    assert sorted(e.engram_id for c in chunks for e in c) == sorted(f"e{i}" for i in range(1200))


async def test_scan_vitals_reads_what_sleep_needs_of_everything(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    assert [chunk async for chunk in store.scan_vitals()] == [[]]
    stored = [
        engram(f"e{i}", f"fact {i}", layer=Layer.SILENT, stability=2.0 + i, access_count=i)
        for i in range(1200)
    ]
    stored[7].context["silenced_at"] = 12.5
    await save(store, *stored)
    chunks = [chunk async for chunk in store.scan_vitals(count=100)]
    assert len(chunks) > 1
    vitals = {v.engram_id: v for chunk in chunks for v in chunk}
    assert sorted(vitals) == sorted(e.engram_id for e in stored)
    for e in stored:
        v = vitals[e.engram_id]
        assert (v.layer, v.stability, v.access_count) == (e.layer, e.stability, e.access_count)
        assert (v.last_accessed, v.salience, v.context) == (e.last_accessed, e.salience, e.context)
        assert v.synaptic_strength == e.synaptic_strength


async def test_change_log_lists_writes_and_deletes(redis: aioredis.Redis, brain_id: str) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    position, added, held = await store.change_log_head()
    assert (position, added, held) == ("0-0", 0, 0)
    await save(store, engram("a"), engram("b"))
    await store.delete(["a"])
    position, change, read = (await store.read_changes(ChangeQuery(position))).since
    assert change.upserted == ["a", "b"] and change.deleted == ["a"] and read == 2
    assert (await store.change_log_head())[0] == position


async def test_restatements_are_found_by_normalised_content(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    await save(store, engram("a", "The PIN is 1234."))
    same = engram("n", "the pin  is 1234")
    other_type = engram("m", "the pin is 1234", memory_type=MemoryType.SEMANTIC)
    assert (await store.read_holding([same, other_type])).restated == ["a"]


async def test_holding_reads_the_engrams_those_they_restate_and_the_slots_at_once(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    await save(store, engram("a", "The PIN is 1234."), engram("b", "beta"))
    pipe = store.pipeline()
    store.stage_working_memory(pipe, ["b", "gone", "a"], now=1.0)
    await pipe.execute()
    asked = [engram("n", "the pin is 1234"), engram("b", "beta"), engram("n", "the pin is 1234")]
    holding = await store.read_holding(asked)
    assert list(holding.stored) == ["n", "b", "a"]  # each once, those restated last
    assert holding.stored["n"] is None
    assert holding.stored["a"] == await redis.hget(store.engrams_key, "a")  # type: ignore[misc]
    assert holding.restated == ["a", "b", "a"]
    assert [e.engram_id for e in holding.working] == ["b", "a"]
    nothing = await store.read_holding([])
    assert (nothing.stored, nothing.restated, len(nothing.working)) == ({}, [], 2)


async def test_holding_read_watching_makes_the_transaction_fail_on_a_change_to_the_slots(
    redis: aioredis.Redis, brain_id: str
) -> None:
    """Read with ``watching``, the slots are watched from before the read, and the watch and
    the read take one round trip on the pipeline's connection."""
    store = MemoryStore(redis, Namespace(brain_id))
    await save(store, engram("a", "alpha"))
    for moved in (False, True):
        async with store.pipeline() as pipe:
            holding = await store.read_holding([engram("a", "alpha")], watching=pipe)
            assert pipe.watching and holding.stored["a"] is not None
            if moved:  # another writer changes the slots after the read
                await redis.zadd(store.wm_key, {"c": 2.0})
            pipe.multi()  # type: ignore[no-untyped-call]
            store.stage_working_memory(pipe, ["b"], now=1.0)
            if moved:
                with pytest.raises(WatchError):
                    await pipe.execute()
            else:
                await pipe.execute()
                assert await store.working_memory_ids() == ["b"]
    assert await store.working_memory_ids() == ["b", "c"]  # the watched write was not made


async def test_working_memory_read_watching_makes_the_transaction_fail_on_a_change(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    await save(store, engram("a", "alpha"))
    pipe = store.pipeline()
    store.stage_working_memory(pipe, ["a"], now=1.0)
    await pipe.execute()
    async with store.pipeline() as pipe:
        held = await store.working_memory(watching=pipe)
        assert pipe.watching and [e.engram_id for e in held] == ["a"]
        await redis.zadd(store.wm_key, {"c": 2.0})  # another writer, after the read
        pipe.multi()  # type: ignore[no-untyped-call]
        store.stage_working_memory(pipe, ["b"], now=1.0)
        with pytest.raises(WatchError):
            await pipe.execute()
    assert await store.working_memory_ids() == ["a", "c"]


async def test_holding_read_watching_sends_the_watch_with_the_read(
    redis: aioredis.Redis, brain_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    writes: list[bytes] = []
    send = AbstractConnection.send_packed_command

    async def sent(conn: AbstractConnection, command: Any, check_health: bool = True) -> None:
        writes.append(b"".join(command) if isinstance(command, list) else bytes(command))
        await send(conn, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", sent)
    async with store.pipeline() as pipe:
        await store.read_holding([engram("z", "zeta")], watching=pipe)
    ours = [w for w in writes if b"WATCH" in w or b"EVAL" in w]  # not a handshake's
    assert len(ours) == 2  # the watch with the read, then the reset's UNWATCH
    assert ours[0].index(b"WATCH") < ours[0].index(b"EVAL") and b"UNWATCH" in ours[1]


async def test_an_engram_stored_in_the_float32_form_is_read(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    old = Engram(engram_id="old", content="x", embedding=np.arange(4, dtype=np.float32) / 7)
    await redis.hset(store.engrams_key, "old", msgspec.msgpack.encode(old, enc_hook=enc_hook))
    await save(store, engram("new"))
    found = {e.engram_id: e for e in await store.all()}
    np.testing.assert_array_equal(found["old"].embedding, old.embedding)
    np.testing.assert_array_equal(found["new"].embedding, np.ones(4, np.float32) / 2)


async def test_update_compares_with_what_the_caller_read_and_redoes_on_a_stale_read(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    await save(store, engram("a"), engram("b"))
    read = await store.get_blobs(["a", "b"])
    await save(store, engram("a", access_count=3))  # written after the caller's read

    def count(e: Engram) -> None:
        e.access_count += 1

    written = await store.update(["a", "b", "c"], count, read={**read, "c": None})
    assert sorted(written) == ["a", "b"]  # "c": read as not stored, and not inserted
    stored = {e.engram_id: e.access_count for e in await store.get_many(["a", "b"])}
    assert stored == {"a": 4, "b": 1}  # "a" read again and redone on the stored version


async def test_update_changes_the_engrams_given_decoded_and_decodes_on_a_retry(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    a, b = engram("a"), engram("b")
    await save(store, a, b)
    read = await store.get_blobs(["a", "b"])
    await save(store, engram("b", access_count=3))  # written after the caller's read

    def count(e: Engram) -> None:
        e.access_count += 1

    written = await store.update(["a", "b"], count, read=read, decoded={"a": a, "b": b})
    assert written["a"] is a and a.access_count == 1  # changed in place, not decoded again
    assert written["b"] is not b and written["b"].access_count == 4  # read again: decoded
    stored = {e.engram_id: e.access_count for e in await store.get_many(["a", "b"])}
    assert stored == {"a": 1, "b": 4}


async def test_update_leaves_its_change_for_the_caller_to_log(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    await save(store, engram("a"))
    position, _, _ = await store.change_log_head()
    written = await store.update(["a"], lambda e: None, logged=False)
    assert ((await store.read_changes(ChangeQuery(position))).since)[
        2
    ] == 0  # not logged until it commits
    pipe = store.pipeline()
    store.stage_change(pipe, written)
    await pipe.execute()
    changes = await store.read_changes(ChangeQuery(position))
    assert changes.since[1].upserted == ["a"] and changes.head[0] == changes.since[0]


async def test_read_changes_reads_past_a_chunk_and_the_recent_ids(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    for name in "abc":
        await save(store, engram(name))
    pipe = store.pipeline()
    store.stage_recent(pipe, list("abc"), 5)
    await pipe.execute()
    changes = await store.read_changes(ChangeQuery("0-0", recent=2, page=2))
    assert changes.since[1].upserted == ["a", "b", "c"] and changes.since[2] == 3
    assert changes.recent == ["c", "b"] and changes.head[1:] == (3, 3)


async def test_working_memory_is_read_least_recent_first(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    await save(store, engram("a"), engram("b"))
    pipe = store.pipeline()
    store.stage_working_memory(pipe, ["b", "gone", "a"], now=1.0)
    await pipe.execute()
    assert [e.engram_id for e in await store.working_memory()] == ["b", "a"]
    working = (await store.read_changes(ChangeQuery("0-0"))).working
    assert [(i, load_engram(blob).engram_id) for i, blob in working] == [("b", "b"), ("a", "a")]


async def test_recent_engrams_come_once_newest_first_within_the_window(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    pipe = store.pipeline()
    store.stage_recent(pipe, ["a", "b", "c"], 3)
    await pipe.execute()
    pipe = store.pipeline()
    store.stage_recent(pipe, ["a", "d", "a"], 3)  # "a" rehearsed twice: once, newest
    await pipe.execute()
    assert (await store.read_changes(ChangeQuery("0-0", recent=5))).recent == ["a", "d", "c"]
    assert (await store.read_changes(ChangeQuery("0-0", recent=2))).recent == ["a", "d"]
    assert (await store.read_changes(ChangeQuery("0-0"))).recent == []  # none asked for


async def test_replace_all_writes_logs_and_acknowledges_only_if_nothing_changed(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    await save(store, engram("a"), engram("b"))
    stream = store.ns.key("recall")
    entry = await redis.xadd(stream, {"m": "x"})
    await redis.xgroup_create(stream, "g", id="0")
    await redis.xreadgroup("g", "c", {stream: ">"})
    read = await store.get_blobs(["a", "b"])
    await save(store, engram("b", access_count=3))  # written after the caller's read
    position, _, _ = await store.change_log_head()
    updates = [(i, read[i], dump_engram(engram(i, access_count=1))) for i in "ab"]
    pipe = store.pipeline()
    store.stage_replace_all(pipe, updates, (stream, "g", [entry.decode()]))
    assert (await pipe.execute())[-1] is None
    stored = {e.engram_id: e.access_count for e in await store.get_many(["a", "b"])}
    assert stored == {"a": 0, "b": 3}  # all or nothing: "a" unchanged too
    assert (await redis.xpending(stream, "g"))["pending"] == 1
    assert (await store.read_changes(ChangeQuery(position))).since[2] == 0  # nothing logged
    read = await store.get_blobs(["a", "b"])
    updates = [(i, read[i], dump_engram(engram(i, access_count=4))) for i in "ab"]
    store.stage_replace_all(pipe, updates, (stream, "g", [entry.decode()]))
    logged = (await pipe.execute())[-1]
    stored = {e.engram_id: e.access_count for e in await store.get_many(["a", "b"])}
    assert stored == {"a": 4, "b": 4}
    assert (await redis.xpending(stream, "g"))["pending"] == 0
    changes = await store.read_changes(ChangeQuery(position))
    assert changes.since[0] == logged.decode() and changes.since[1].upserted == ["a", "b"]


async def test_read_changes_leaves_out_what_the_reader_wrote_last(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    await save(store, engram("a"), engram("b"), engram("c"))
    position, _, _ = await store.change_log_head()
    await save(store, engram("c"))  # another writer's change before the reader's
    read = await store.get_blobs(["a", "b", "c"])
    pipe = store.pipeline()
    store.stage_replace_all(pipe, [(i, read[i], dump_engram(engram(i))) for i in "abc"])
    own = (await pipe.execute())[-1].decode()
    await save(store, engram("b", access_count=2))  # another writer's change after it
    changes = await store.read_changes(ChangeQuery(position), own={own})
    assert changes.since[1].upserted == ["b"] and changes.since[2] == 3
    last_changed_last = ["a", "c", "b"]
    assert (await store.read_changes(ChangeQuery(position))).since[1].upserted == last_changed_last


async def test_holding_reads_a_batch_larger_than_a_lua_stack(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    stored = [engram(f"s{i}", f"fact {i}") for i in range(2500)]
    await save(store, *stored)
    pipe = store.pipeline()
    store.stage_working_memory(pipe, [e.engram_id for e in stored], now=1.0)
    await pipe.execute()
    asked = [engram(f"n{i}", f"Fact {i}.") for i in range(9000)]
    holding = await store.read_holding(asked)
    assert holding.restated == [f"s{i}" for i in range(2500)]
    assert len(holding.stored) == 11_500 and len(holding.working) == 2500
    assert [i for i, blob in holding.stored.items() if blob] == holding.restated


async def test_contents_are_remembered_in_one_command(redis: aioredis.Redis, brain_id: str) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    pipe = store.pipeline()
    store.stage_contents(pipe, [])
    assert pipe.command_stack == []
    store.stage_contents(pipe, [engram("a", "The PIN is 1234."), engram("b", "beta")])
    assert len(pipe.command_stack) == 1
    await pipe.execute()
    asked = [engram("n", "the pin is 1234"), engram("m", "Beta!")]
    assert (await store.read_holding(asked)).restated == ["a", "b"]


async def test_recent_engrams_from_a_batch_longer_than_the_window(
    redis: aioredis.Redis, brain_id: str
) -> None:
    store = MemoryStore(redis, Namespace(brain_id))
    pipe = store.pipeline()
    store.stage_recent(pipe, ["x", "y"], 3)
    await pipe.execute()
    pipe = store.pipeline()
    store.stage_recent(pipe, ["a", "x", "b", "c", "d", "b", "e", "y"], 3)
    assert len(pipe.command_stack) == 3 + 2  # LREM each of the 3 kept, LPUSH, LTRIM
    await pipe.execute()
    assert (await store.read_changes(ChangeQuery("0-0", recent=5))).recent == ["y", "e", "b"]
    assert await redis.llen(store.recent_key) == 3
