"""Brain.perceive_many: a batch checked whole before it is sent, sent in pipelines under the
same backpressure as perceive(wait=False), its outcomes awaited or counted by flush()."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from neurram import BrainUnavailableError, InvalidInputError, InvalidItemError, Layer, MemoryType
from neurram.bus import Namespace
from neurram.bus.pressure import report

from .conftest import BrainFactory

SLOW_SENSORY = {"sensory_cortex": "tests.custom_regions:SlowSensoryCortex"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (42, "item 1: must be a str or a mapping"),
        ({"text": "hello"}, r"item 1: unknown keys \['text'\]"),
        ({"salience": 0.5}, "item 1: no 'content'"),
        ("   ", "item 1: content must not be empty"),
        ({"content": "ok", "salience": 2}, r"item 1: salience must be in \[0, 1\]"),
        ({"content": "ok", "memory_type": "dreams"}, "item 1: unknown memory type 'dreams'"),
        ({"content": "ok", "occurred_at": 4e12}, "item 1: occurred_at .* is in the future"),
    ],
)
@pytest.mark.parametrize("wait", [True, False])
async def test_a_bad_item_is_named_and_nothing_is_sent(
    make_brain: BrainFactory, redis: aioredis.Redis, bad: Any, message: str, wait: bool
) -> None:
    brain = await make_brain(run_regions=False)
    with pytest.raises(InvalidItemError, match=message) as refused:
        await brain.perceive_many(["A good first item", bad, "A good last item"], wait=wait)
    assert refused.value.index == 1
    assert await redis.xlen(Namespace(brain.settings.brain_id).key("sensory")) == 0
    assert await brain.flush(timeout=0.2) == {"held": 0, "stored": 0, "gated": 0, "expired": 0}


async def test_a_single_content_is_not_taken_for_a_batch(make_brain: BrainFactory) -> None:
    brain = await make_brain(run_regions=False)
    with pytest.raises(InvalidInputError, match="wrap a single item in a list"):
        await brain.perceive_many("Paris is the capital of France")


async def test_awaited_batch_returns_every_fate_in_order(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    last_week = datetime.fromtimestamp(time.time() - 7 * 86400)
    items: list[str | dict[str, Any]] = [
        "Remember the meeting at 3 pm",
        "fyi maybe the printer is slow",  # gated by the Thalamus
        {
            "content": "User always prefers concise answers",
            "memory_type": "habitual",
            "reward": 0.9,
        },
        {"content": "We hiked to the lake", "occurred_at": last_week, "context": {"who": "Ann"}},
    ]
    engrams = await brain.perceive_many(items)
    assert [e.content for e in engrams] == [
        "Remember the meeting at 3 pm",
        "fyi maybe the printer is slow",
        "User always prefers concise answers",
        "We hiked to the lake",
    ]
    meeting, printer, habit, hike = engrams
    assert meeting.layer is Layer.WORKING and meeting.embedding is not None
    assert printer.layer is Layer.SENSORY and printer.context["outcome"] == "gated"
    assert habit.memory_type is MemoryType.HABITUAL and habit.layer is Layer.LONG_TERM
    assert hike.occurred_at == pytest.approx(last_week.timestamp())
    assert hike.context["who"] == "Ann"
    assert [e.engram_id for e in brain.working_memory] == [meeting.engram_id, hike.engram_id]
    assert await brain.flush() == {"held": 0, "stored": 0, "gated": 0, "expired": 0}


async def test_unawaited_batch_is_counted_by_flush(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    sent = await brain.perceive_many(
        [f"Remember the meeting at {i} pm" for i in range(5)]
        + ["fyi maybe the printer is slow"]
        + [
            {
                "content": "User always prefers concise answers",
                "memory_type": "habitual",
                "reward": 0.9,
            }
        ],
        wait=False,
    )
    assert [e.layer for e in sent] == [Layer.SENSORY] * 7
    await brain.perceive("Remember the dentist at noon", wait=False)
    assert await brain.flush() == {"held": 6, "stored": 1, "gated": 1, "expired": 0}
    assert {e.engram_id for e in sent[:5]} <= {e.engram_id for e in await brain.engrams()}


@pytest.mark.parametrize("wait", [True, False])
async def test_an_empty_batch_sends_nothing(
    make_brain: BrainFactory, redis: aioredis.Redis, wait: bool
) -> None:
    brain = await make_brain(run_regions=False)
    assert await brain.perceive_many([], wait=wait) == []
    assert await redis.exists(Namespace(brain.settings.brain_id).key("sensory")) == 0


@pytest.mark.parametrize("wait", [True, False])
async def test_a_batch_faster_than_attention_is_held_back_and_loses_nothing(
    make_brain: BrainFactory, wait: bool
) -> None:
    brain = await make_brain(regions=SLOW_SENSORY)  # default TTL: 3 s
    stimuli = 1200  # about 5 s of attention: unthrottled, the last ones would wait 4 s
    engrams = await brain.perceive_many(
        [f"load fact {i}: item {i} weighs {i % 97} kg" for i in range(stimuli)], wait=wait
    )
    assert len(engrams) == stimuli
    if wait:
        assert all(e.layer is Layer.WORKING and "outcome" not in e.context for e in engrams)
        assert len({e.engram_id for e in engrams}) == stimuli
    else:
        assert await brain.flush() == {"held": stimuli, "stored": 0, "gated": 0, "expired": 0}


async def test_a_held_batch_enters_the_sensory_buffer_when_it_is_sent(
    make_brain: BrainFactory, redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held back past the sensory TTL by a busy runner, the batch does not expire: each
    pipeline is stamped when it is sent."""
    client = await make_brain(run_regions=False)
    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    runner = f"{client.settings.brain_id}-busy-runner"
    await report(redis, runner, 5.0)  # it keeps brains waiting 5 s for their turn
    items = [f"Remember the dentist at {i} pm" for i in range(3)]
    try:
        sending = asyncio.create_task(client.perceive_many(items, wait=False))
        done, _ = await asyncio.wait({sending}, timeout=0.5)
        assert not done  # held back
        clock[0] += 10.0  # held past the sensory TTL (3 s)
    finally:
        await report(redis, runner, 0.0)
    assert all(e.encoded_at == clock[0] for e in await sending)
    await make_brain(brain_id=client.settings.brain_id)  # regions, on the same clock
    assert await client.flush() == {"held": 3, "stored": 0, "gated": 0, "expired": 0}


@pytest.mark.parametrize("wait", [True, False])
async def test_a_held_back_batch_gives_up_when_the_regions_make_no_progress(
    make_brain: BrainFactory, redis: aioredis.Redis, wait: bool
) -> None:
    client = await make_brain(run_regions=False, request_timeout_seconds=0.5)
    items = [f"unattended fact {i}" for i in range(10_000)]
    with pytest.raises(BrainUnavailableError, match="no progress") as stalled:
        await client.perceive_many(items, wait=wait)
    sent = await redis.xlen(Namespace(client.settings.brain_id).key("sensory"))
    assert 0 < sent < 1000  # held back once the regions' speed was unknown and work waited
    assert f"{sent} of the 10000 of this call sent" in str(stalled.value)
    if wait:
        assert client._inbox._waiting == {}  # nothing left behind
        assert await client.flush() == {"held": 0, "stored": 0, "gated": 0, "expired": 0}
    else:  # flush() waits for those sent
        with pytest.raises(BrainUnavailableError, match=f"{sent} of {sent} stimuli"):
            await client.flush(timeout=0.2)


async def test_an_awaited_batch_without_regions_raises_instead_of_hanging(
    make_brain: BrainFactory,
) -> None:
    client = await make_brain(run_regions=False, request_timeout_seconds=0.3)
    with pytest.raises(BrainUnavailableError, match="no answer from the regions"):
        await client.perceive_many(["Remember the dentist at noon"])
    assert client._inbox._waiting == {}  # nothing left behind


async def test_an_awaited_batch_brings_back_working_memory_with_its_last_outcome(
    make_brain: BrainFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = await make_brain()

    async def unread() -> None:
        raise AssertionError("the last outcome carries working memory: no read of it")

    monkeypatch.setattr(brain._store, "working_memory", unread)
    engrams = await brain.perceive_many([f"the heron's nest number {i}" for i in range(9)])
    held = [e.engram_id for e in brain.working_memory]
    assert held == [e.engram_id for e in engrams[-7:]]  # seven slots, least recent first
