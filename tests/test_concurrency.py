"""Several instances of every region on one brain, and sleep racing with recall."""

from __future__ import annotations

import asyncio

from neurram import Layer

from .conftest import BrainFactory


async def test_two_instances_of_every_region_share_the_work(
    make_brain: BrainFactory, brain_id: str
) -> None:
    one = await make_brain(batch_size=4)
    two = await make_brain(brain_id=brain_id, batch_size=4)  # a second set of regions

    async def perceive(brain, i: int) -> str:  # type: ignore[no-untyped-def]
        engram = await brain.perceive(f"shared fact {i} about subject {i}")
        assert engram.layer is Layer.WORKING
        return engram.engram_id

    ids = await asyncio.gather(*(perceive((one, two)[i % 2], i) for i in range(120)))
    stored = {e.engram_id: e for e in await one.engrams()}
    assert sorted(stored) == sorted(ids)
    held = [e.engram_id for e in one.working_memory]
    await two.perceive("one more to refresh the view")
    assert len(two.working_memory) == 7
    assert set(held) <= set(stored)
    # read-your-writes whichever Hippocampus instance serves the recall
    for i in (0, 1, 118, 119):
        results = await (two, one)[i % 2].recall(f"shared fact {i} about subject {i}", top_k=1)
        assert results[0][0].engram_id == ids[i]


async def test_sleep_never_undoes_a_concurrent_recall(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    engram = await brain.perceive("The boiler service is due in March", salience=0.5)
    for _ in range(10):
        await brain.perceive(f"unrelated note {_}")  # push it out of working memory
    recalls = [brain.recall("boiler service March", top_k=1) for _ in range(20)]
    sleeps = [brain.sleep() for _ in range(5)]
    await asyncio.gather(*recalls, *sleeps)
    stored = {e.engram_id: e for e in await brain.engrams()}[engram.engram_id]
    assert stored.access_count == 20  # every potentiation kept
