"""Flow of perceive(wait=False): backpressure before the sensory TTL, and flush()."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from neurram import BrainUnavailableError, MemoryType
from neurram.bus import Namespace
from neurram.bus.pressure import report

from .conftest import BrainFactory

SLOW_SENSORY = {"sensory_cortex": "tests.custom_regions:SlowSensoryCortex"}


async def test_a_producer_faster_than_attention_loses_nothing(make_brain: BrainFactory) -> None:
    brain = await make_brain(regions=SLOW_SENSORY)  # default TTL: 3 s
    stimuli = 1200  # about 5 s of attention: unthrottled, the last ones would wait 4 s
    for i in range(stimuli):
        await brain.perceive(f"load fact {i}: item {i} weighs {i % 97} kg", wait=False)
    assert await brain.flush() == {"held": stimuli, "stored": 0, "gated": 0, "expired": 0}


async def test_a_busy_runner_holds_every_producer_and_what_it_held_does_not_expire(
    make_brain: BrainFactory, redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner's pressure holds a producer whose own brain has nothing waiting; the stimulus
    enters the sensory buffer when it is sent, so time held back does not age it."""
    client = await make_brain(run_regions=False)
    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    runner = f"{client.settings.brain_id}-busy-runner"
    await report(redis, runner, 5.0)  # it keeps brains waiting 5 s for their turn
    try:
        sending = asyncio.create_task(client.perceive("Remember the dentist at noon", wait=False))
        done, _ = await asyncio.wait({sending}, timeout=0.5)
        assert not done  # held back
        clock[0] += 10.0  # held past the sensory TTL (3 s)
    finally:
        await report(redis, runner, 0.0)
    await sending
    await make_brain(brain_id=client.settings.brain_id)  # regions, on the same clock
    assert await client.flush() == {"held": 1, "stored": 0, "gated": 0, "expired": 0}


async def test_flush_counts_every_outcome(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    for i in range(5):
        await brain.perceive(f"Remember the meeting at {i} pm", wait=False)
    await brain.perceive("fyi maybe the printer is slow", wait=False)
    await brain.perceive(
        "User always prefers concise answers",
        memory_type=MemoryType.HABITUAL,
        reward=0.9,
        wait=False,
    )
    await brain.perceive("An awaited stimulus is not counted")
    assert await brain.flush() == {"held": 5, "stored": 1, "gated": 1, "expired": 0}


async def test_flush_reports_what_expired_while_the_regions_were_stalled(
    make_brain: BrainFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_brain(run_regions=False)
    real_time = time.time
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: real_time() - 10.0)  # perceived 10 s ago
        for i in range(5):
            await client.perceive(f"Remember the meeting at {i} pm", wait=False)
    await client.perceive("This one is fresh", wait=False)
    await make_brain(brain_id=client.settings.brain_id)  # the regions come back
    assert await client.flush() == {"held": 1, "stored": 0, "gated": 0, "expired": 5}


async def test_flush_without_regions_raises_instead_of_hanging(make_brain: BrainFactory) -> None:
    client = await make_brain(run_regions=False)
    for i in range(3):
        await client.perceive(f"Remember the meeting at {i} pm", wait=False)
    with pytest.raises(BrainUnavailableError, match="3 of 3 stimuli"):
        await client.flush(timeout=0.2)


async def test_a_held_back_producer_gives_up_when_the_regions_make_no_progress(
    make_brain: BrainFactory, redis: aioredis.Redis
) -> None:
    client = await make_brain(run_regions=False, request_timeout_seconds=0.5)
    sent = 0
    with pytest.raises(BrainUnavailableError, match="no progress"):
        for i in range(10_000):
            await client.perceive(f"unattended fact {i}", wait=False)
            sent += 1
    assert 0 < sent < 1000  # held back once the regions' speed was unknown and work waited
    sensory = Namespace(client.settings.brain_id).key("sensory")
    assert await redis.xlen(sensory) == sent  # the refused stimulus was not sent
