"""Export and import: a lossless round trip, strict checking, the dimension check, re-encoding."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from neurram import Brain, Engram, Layer, MemoryType
from neurram.bus import Namespace
from neurram.encoder import HashEncoder
from neurram.errors import ImportFormatError, ImportInterruptedError, ModelMismatchError
from neurram.runtime.store import MemoryStore
from neurram.runtime.transfer import import_lines
from tests.conftest import BrainFactory

LONG = " ".join(f"Sentence {i} describes the harbour of the town number {i}." for i in range(12))


async def lived_in(make_brain: BrainFactory, redis: aioredis.Redis) -> Brain:
    """A brain of several hundred engrams of every type and layer: perceived in bulk (some
    long, some rewarded, salient, or a year old), restated facts superseded, one sleep."""
    brain = await make_brain(sensory_ttl_seconds=math.inf, forgetting_law="exponential")
    year_ago = time.time() - 365 * 86400
    types = list(MemoryType)
    for i in range(300):
        await brain.perceive(
            f"Fact {i}: the parcel {i} waits in room {i % 17} of building {i % 5}"
            + (f". {LONG}" if i % 40 == 0 else ""),
            memory_type=types[i % 4],
            salience=0.9 if i % 11 == 0 else None,
            reward=0.6 if i % 13 == 0 else 0.0,
            occurred_at=year_ago + i if i % 5 == 0 else None,
            context={"source": "test", "n": i, "tags": ["a", "b"]},
            wait=False,
        )
    for i in range(10):
        await brain.perceive(f"The locker code of Sam {i} is {1000 + i}", wait=False)
        await brain.perceive(f"The locker code of Sam {i} is {2000 + i}", wait=False)
    await brain.perceive("The last fact closes the batch")  # FIFO through every region
    await brain.sleep()  # consolidates, silences the year-old ones
    unencoded = Engram(content="A stimulus caught on its way", layer=Layer.SENSORY)
    await MemoryStore(redis, Namespace(brain.settings.brain_id)).put([unencoded])
    return brain


async def lines_of(brain: Brain) -> list[str]:
    return [line async for line in brain.export()]


async def test_export_import_export_gives_the_same_lines(
    make_brain: BrainFactory, redis: aioredis.Redis
) -> None:
    brain = await lived_in(make_brain, redis)
    engrams = await brain.engrams()
    assert len(engrams) > 300
    assert {e.layer for e in engrams} == set(Layer)
    assert {e.memory_type for e in engrams} == set(MemoryType)
    assert any(e.fragments for e in engrams)
    assert any(e.associations for e in engrams)
    assert any("superseded_by" in e.context for e in engrams)
    assert len({e.episode for e in engrams}) > 1

    exported = await lines_of(brain)
    empty = await make_brain(run_regions=False)  # an import needs no region
    report = await empty.import_(exported)
    again = await lines_of(empty)

    assert report.engrams == len(engrams) == len(exported) - 1
    assert sorted(again[1:]) == sorted(exported[1:])  # the store decides the order
    first, second = json.loads(exported[0]), json.loads(again[0])
    assert first.pop("brain_id") == brain.settings.brain_id
    assert second.pop("brain_id") == empty.settings.brain_id
    first.pop("exported_at"), second.pop("exported_at")
    assert (
        first
        == second
        == {
            "format": "neurram-export",
            "version": 1,
            "model": "hash",
            "dimension": 384,
        }
    )
    imported = {e.engram_id: e for e in await empty.engrams()}
    for engram in engrams:  # bit-exact embeddings
        assert imported[engram.engram_id].embedding.tobytes() == engram.embedding.tobytes()
        copy = imported[engram.engram_id].fragment_embeddings
        assert copy.tobytes() == engram.fragment_embeddings.tobytes()
    source, target = (MemoryStore(redis, Namespace(b.settings.brain_id)) for b in (brain, empty))
    assert await redis.hgetall(source.bycontent_key) == await redis.hgetall(target.bycontent_key)
    assert empty.working_memory == []  # imported engrams take no working-memory slot


async def test_a_running_brain_recalls_and_merges_into_imported_engrams(
    make_brain: BrainFactory, tmp_path: Path
) -> None:
    source = await make_brain()
    fact = await source.perceive("The spare key hangs behind the blue door")
    path = tmp_path / "brain.jsonl"
    path.write_text("".join(await lines_of(source)))

    target = await make_brain()
    await target.recall("anything at all")  # its Hippocampus has built its index already
    report = await target.import_(path)
    assert report.engrams == 1
    results = await target.recall("spare key blue door", top_k=1)
    assert results[0][0].engram_id == fact.engram_id  # indexed from the change log
    restated = await target.perceive("the spare key hangs behind the blue door")
    assert restated.engram_id == fact.engram_id  # the restatement hash knows it


async def test_an_export_streams_straight_into_an_import(make_brain: BrainFactory) -> None:
    source = await make_brain()
    for i in range(5):
        await source.perceive(f"Streamed fact number {i} about the garden")
    target = await make_brain(run_regions=False)
    report = await target.import_(source.export())
    assert report.engrams == 5
    assert sorted((await lines_of(target))[1:]) == sorted((await lines_of(source))[1:])


async def two_lines(make_brain: BrainFactory) -> list[str]:
    brain = await make_brain()
    await brain.perceive("The first fact is about the red car")
    await brain.perceive("The second fact is about the green bike")
    return await lines_of(brain)


@pytest.mark.parametrize(
    ("damage", "line", "reason"),
    [
        (lambda lines: [*lines[:2], "{not json\n", lines[2]], 3, "not an engram"),
        (lambda lines: [*lines, re.sub(r',"episode":"\w*"', "", lines[1])], 4, "field `episode`"),
        (lambda lines: [*lines[:2], lines[2].replace("{", '{"mood":1,', 1)], 3, "field `mood`"),
        (lambda lines: [lines[0], lines[1].replace('"layer":"', '"layer":"x')], 2, "layer"),
        (lambda lines: [lines[0].replace('"version":1', '"version":7'), *lines[1:]], 1, "7"),
        (lambda lines: lines[1:], 1, "header"),
        (
            lambda lines: [
                *lines,
                "\n",
                lines[2].replace('"embedding":"', '"embedding":"' + "A" * 16),
            ],
            5,
            "387 dimensions",
        ),
    ],
)
async def test_a_bad_line_is_named_and_nothing_is_written(
    make_brain: BrainFactory, damage, line: int, reason: str
) -> None:  # type: ignore[no-untyped-def]
    lines = damage(await two_lines(make_brain))
    target = await make_brain(run_regions=False)
    with pytest.raises(ImportFormatError, match=reason) as raised:
        await target.import_(lines)
    assert raised.value.line == line
    assert str(raised.value).startswith(f"line {line}:")
    assert await target.engrams() == []


async def test_another_dimension_is_refused_unless_reencoded(make_brain: BrainFactory) -> None:
    lines = await two_lines(make_brain)
    small = await make_brain(run_regions=False, encoder=HashEncoder(dim=16))
    with pytest.raises(ModelMismatchError, match=r"384 dimensions.*makes 16.*reencode"):
        await small.import_(lines)
    assert await small.engrams() == []

    report = await small.import_(lines, reencode=True)
    assert report.engrams == 2 and report.reencoded
    for engram in await small.engrams():
        fresh = HashEncoder(dim=16).encode([engram.content])[0]  # stored as float16
        assert np.array_equal(engram.embedding, fresh.astype(np.float16).astype(np.float32))


async def test_progress_is_reported_per_stage(make_brain: BrainFactory) -> None:
    lines = await two_lines(make_brain)
    target = await make_brain(run_regions=False)
    seen: list[tuple[str, int, int | None]] = []
    await target.import_(lines, progress=lambda *step: seen.append(step))
    assert seen == [("checked", 2, 2), ("written", 2, 2)]


async def test_an_empty_brain_exports_a_header_only(make_brain: BrainFactory) -> None:
    brain = await make_brain(run_regions=False)
    lines = await lines_of(brain)
    assert len(lines) == 1 and json.loads(lines[0])["dimension"] == 0
    other = await make_brain(run_regions=False)
    assert (await other.import_(lines)).engrams == 0


async def chunks(lines: list[str]) -> AsyncIterator[bytes]:
    for line in lines:
        yield line.encode()


async def test_lines_may_come_as_bytes_without_newlines(make_brain: BrainFactory) -> None:
    lines = [line.rstrip("\n") for line in await two_lines(make_brain)]
    target = await make_brain(run_regions=False)
    assert (await target.import_(chunks(lines))).engrams == 2


async def test_an_interrupted_import_says_what_it_wrote_and_a_rerun_completes_it(
    make_brain: BrainFactory, redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = await make_brain()
    for i in range(3):
        await source.perceive(f"Interrupted fact number {i} about the river")
    lines = await lines_of(source)
    target = await make_brain(run_regions=False)
    store = MemoryStore(redis, Namespace(target.settings.brain_id))
    put = MemoryStore.put
    calls = 0

    async def failing_put(self: MemoryStore, engrams: Sequence[Engram]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RedisConnectionError("connection lost")
        await put(self, engrams)

    monkeypatch.setattr(MemoryStore, "put", failing_put)
    with pytest.raises(ImportInterruptedError, match="after 1 of 3 engrams") as raised:
        await import_lines(store, lines, HashEncoder(), fragment_above_words=64, chunk=1)
    assert (raised.value.written, raised.value.total) == (1, 3)
    assert len(await target.engrams()) == 1  # whole chunks only
    report = await import_lines(store, lines, HashEncoder(), fragment_above_words=64, chunk=1)
    assert report.engrams == 3 and len(await target.engrams()) == 3
