"""A small dated history of our own (SPEC 9), with the real MiniLM model: episodes, temporal
contiguity and time windows, end to end. The clock is moved to the day after the last
conversation, as in the dated protocol."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from neurram import Brain, MemoryType

pytestmark = pytest.mark.e2e

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
THURSDAY = datetime(2026, 3, 5, 18, 30, tzinfo=UTC)
SUNDAY = datetime(2026, 3, 8, 11, 0, tzinfo=UTC)
HISTORY = {  # when a conversation began -> its turns, a minute apart
    MONDAY: [
        "Sam: I'm thinking about a trip to Lisbon in May.",
        "Ava: Are you flying or taking the train?",
        "Sam: Flying. The tickets were 180 euros return.",
    ],
    THURSDAY: [
        "Sam: I baked sourdough bread for the first time tonight.",
        "Ava: How did it turn out?",
        "Sam: Burnt on the bottom, so next time I'll lower the oven to 220 degrees.",
    ],
    SUNDAY: [
        "Sam: The Lisbon hotel cancelled my booking this morning.",
        "Ava: That's annoying. Did they refund you?",
        "Sam: Yes, the full amount, and I found a guesthouse in Alfama instead.",
    ],
}


@pytest.fixture
async def brain(redis_url: str, brain_id: str, monkeypatch: pytest.MonkeyPatch) -> Brain:
    """The history perceived with its dates; the clock the day after the last turn."""
    now = (SUNDAY + timedelta(days=1)).timestamp()
    monkeypatch.setattr(time, "time", lambda: now)
    brain = await Brain.create(redis_url=redis_url, brain_id=brain_id)
    for start, turns in HISTORY.items():
        for minute, turn in enumerate(turns):
            await brain.perceive(
                turn, memory_type=MemoryType.EPISODIC, occurred_at=start + timedelta(minutes=minute)
            )
    yield brain
    await brain.close()


async def test_each_conversation_is_an_episode(brain: Brain) -> None:
    engrams = await brain.engrams()
    episodes = {
        start: {
            e.episode
            for e in engrams
            if start <= datetime.fromtimestamp(e.occurred_at, UTC) < start + timedelta(hours=1)
        }
        for start in HISTORY
    }
    assert all(len(ids) == 1 for ids in episodes.values())
    assert len(set().union(*episodes.values())) == 3


async def test_what_was_said_right_after_a_strong_match_comes_with_it(brain: Brain) -> None:
    results = await brain.recall("How did the sourdough bread turn out?", top_k=3, explain=True)
    contents = [e.content for e, _, _ in results]
    answer = HISTORY[THURSDAY][2]  # "Burnt on the bottom...": no word of the cue
    assert contents[0] == HISTORY[THURSDAY][0] or contents[0] == HISTORY[THURSDAY][1]
    assert answer in contents
    why = next(w for e, _, w in results if e.content == answer)
    assert why.temporal > 0  # lifted by its neighbour in time


async def test_a_window_keeps_what_occurred_in_it(brain: Brain) -> None:
    everything = await brain.recall("Lisbon", top_k=10)
    assert {e.content for e, _ in everything} >= {HISTORY[MONDAY][0], HISTORY[SUNDAY][0]}
    later = await brain.recall("Lisbon", top_k=10, since=SUNDAY)
    assert later and all(e.occurred_at >= SUNDAY.timestamp() for e, _ in later)
    assert HISTORY[SUNDAY][0] in {e.content for e, _ in later}
    earlier = await brain.recall("Lisbon", top_k=10, until=MONDAY + timedelta(hours=1))
    assert {e.content for e, _ in earlier} <= set(HISTORY[MONDAY])
    assert HISTORY[MONDAY][0] in {e.content for e, _ in earlier}


async def test_explain_shows_meaning_and_words(brain: Brain) -> None:
    [(found, _, why)] = await brain.recall(
        "How much were the plane tickets?", top_k=1, explain=True
    )
    assert found.content == HISTORY[MONDAY][2]
    assert found.occurred_at == (MONDAY + timedelta(minutes=2)).timestamp()
    assert why.lexical > 0 and why.semantic > 0
