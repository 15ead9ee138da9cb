"""The original project page's Quick start, with the real all-MiniLM-L6-v2 model."""

from __future__ import annotations

import pytest

from neurram import Brain, Layer, MemoryType, compute_retention, time_until_forgotten

pytestmark = pytest.mark.e2e


async def test_quick_start_as_written(redis_url: str, brain_id: str) -> None:
    brain = await Brain.create(redis_url=redis_url, brain_id=brain_id)
    try:
        await brain.perceive("Paris is the capital of France", memory_type=MemoryType.SEMANTIC)
        await brain.perceive(
            "I had a great meeting with Alice today", memory_type=MemoryType.EPISODIC, salience=0.8
        )
        await brain.perceive(
            "To debug Python: add breakpoint(), run, inspect locals",
            memory_type=MemoryType.PROCEDURAL,
        )
        habit = await brain.perceive(
            "User always prefers concise answers", memory_type=MemoryType.HABITUAL, reward=0.9
        )
        results = await brain.recall("capital city Europe")
        assert results[0][0].content == "Paris is the capital of France"
        assert f"[{results[0][0].memory_type}]" == "[semantic]"
        assert len(brain.working_memory) == 3
        assert habit.layer is Layer.LONG_TERM
        stats = await brain.sleep()
        assert {"consolidated", "pruned_wm", "pruned_ltm"} <= set(stats)
        assert stats["consolidated"] >= 1  # the salient meeting with Alice
        alice = next(e for e in await brain.engrams() if "Alice" in e.content)
        assert alice.context["region"] == "neocortex"
        assert 0.99 < compute_retention(alice) <= 1.0
        assert time_until_forgotten(alice) > 5.0  # stability doubled by salience 0.8
    finally:
        await brain.close()


async def test_async_with_and_recall_by_meaning(redis_url: str, brain_id: str) -> None:
    async with await Brain.create(redis_url=redis_url, brain_id=brain_id) as brain:
        await brain.perceive("The cat sat on the warm windowsill all afternoon")
        await brain.perceive("Quarterly revenue grew by twelve percent")
        await brain.perceive("Our dog loves chasing tennis balls in the park")
        results = await brain.recall("pets", top_k=2)
        contents = {e.content for e, _ in results}
        assert "Quarterly revenue grew by twelve percent" not in contents
        finance = await brain.recall("company earnings", top_k=1)
        assert finance[0][0].content == "Quarterly revenue grew by twelve percent"
