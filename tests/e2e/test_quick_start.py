"""The original project page's Quick start, with the real all-MiniLM-L6-v2 model."""

from __future__ import annotations

import ast

import pytest

from neurram import Brain, Layer, Settings, compute_retention, time_until_forgotten
from neurram.cli.demo import quick_start

pytestmark = pytest.mark.e2e


async def test_quick_start_as_written(
    redis_url: str, brain_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await quick_start(Settings.load(redis_url=redis_url, brain_id=brain_id))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("  [semantic]  Paris is the capital of France")
    assert "Working memory: 3 / 7 slots" in lines
    stats = ast.literal_eval(lines[-1])
    assert {"consolidated", "pruned_wm", "pruned_ltm"} <= set(stats)
    assert stats["consolidated"] >= 1  # the salient meeting with Alice
    async with await Brain.create(
        redis_url=redis_url, brain_id=brain_id, run_regions=False
    ) as brain:
        stored = {e.content: e for e in await brain.engrams()}
    alice = stored["I had a great meeting with Alice today"]
    assert alice.layer is Layer.LONG_TERM and alice.context["region"] == "neocortex"
    assert 0.99 < compute_retention(alice) <= 1.0
    assert time_until_forgotten(alice) > 5.0  # stability doubled by salience 0.8
    habit = stored["User always prefers concise answers"]
    assert habit.layer is Layer.LONG_TERM and habit.context["region"] == "basal_ganglia"


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


async def test_a_long_memory_is_found_by_meaning_through_a_sentence(
    redis_url: str, brain_id: str
) -> None:
    from tests.test_brain import LONG_NOTE

    async with await Brain.create(redis_url=redis_url, brain_id=brain_id) as brain:
        note = await brain.perceive(LONG_NOTE)
        await brain.perceive("Our dog loves chasing tennis balls in the park")
        results = await brain.recall("when do the coaches return to town", top_k=1)
        assert results[0][0].engram_id == note.engram_id


async def test_a_changed_pin_is_recalled_as_it_is_now(redis_url: str, brain_id: str) -> None:
    async with await Brain.create(redis_url=redis_url, brain_id=brain_id) as brain:
        await brain.perceive("My PIN is 1234", salience=0.9)
        await brain.perceive("My PIN is 5678", salience=0.5)
        results = await brain.recall("what is my PIN number", top_k=2)
        assert [e.content for e, _ in results] == ["My PIN is 5678", "My PIN is 1234"]
