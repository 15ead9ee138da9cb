"""Supersession: a later memory about the same thing outranks the earlier one."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from neurram.engram import Engram, MemoryType
from neurram.lexicon import term_counts
from neurram.supersession import differ_in_a_fact, held_by_any_superseded, supersedes


@pytest.mark.parametrize(
    ("new", "old", "same_thing"),
    [
        ("My PIN is 5678", "My PIN is 1234", True),
        ("The door is not locked", "The door is locked", True),
        ("Alice lives in Berlin", "Alice lives in Paris", True),
        ("The meeting is on Friday", "The meeting is on Monday", True),
        ("my pin is 1234!", "My PIN is 1234", False),  # a restatement, not a new fact
        ("The PIN is 1234", "My PIN is 1234", False),  # only stopwords differ
        ("Quarterly revenue grew", "My PIN is 1234", False),  # nothing shared
        ("The old blue car was sold to a neighbour", "The car is red", False),  # too much changed
    ],
)
def test_differ_in_a_fact(new: str, old: str, same_thing: bool) -> None:
    assert differ_in_a_fact(new, old) is same_thing


def test_supersedes_needs_same_type_order_and_closeness() -> None:
    old = Engram(content="My PIN is 1234", encoded_at=1.0)
    new = Engram(content="My PIN is 5678", encoded_at=2.0)
    assert supersedes(new, old, similarity=0.8, threshold=0.7)
    assert not supersedes(old, new, similarity=0.8, threshold=0.7)  # the earlier never wins
    assert not supersedes(new, old, similarity=0.6, threshold=0.7)
    other = Engram(content="My PIN is 5678", encoded_at=2.0, memory_type=MemoryType.SEMANTIC)
    assert not supersedes(other, old, similarity=0.8, threshold=0.7)


def test_the_terms_held_are_the_rarest_of_its_content_words() -> None:
    frequency = Counter({"load": 900, "fact": 900, "item": 900, "weigh": 900, "kg": 900, "15": 9})
    held = held_by_any_superseded("Load fact 500: item 500 weighs 15 kg", frequency.__getitem__)
    assert held is not None and held[:2] == ["500", "15"]
    assert len(held) == 3  # one of any three of its words is shared: at most two change
    assert held_by_any_superseded("Is it?", frequency.__getitem__) == []  # none to share
    # "x" and "7" are content words that the index keeps no term of: with three others, left
    # out; with fewer, only a full search finds what shares them
    held = held_by_any_superseded("Plan x of item 7 moved", frequency.__getitem__)
    assert held is not None and sorted(held) == ["item", "move", "plan"]
    assert held_by_any_superseded("Plan x is on", frequency.__getitem__) is None


FACTS = [
    "My PIN is 1234",
    "Alice lives in Berlin near the old harbour",
    "The meeting with Bob's team moved to Friday at 10",
    "Don't forget: the car's tyres are 80's vintage",
    "Record 7: the amber lynx seen on day 7 lives near Riga",
]
SWAPS = ["5678", "Paris", "Monday", "Carol's", "new", "isn't", "11", "riga's", "blue", "o'clock"]
SWAPS += ["7", "x"]  # words of one character: no index term


def test_every_memory_a_new_one_can_supersede_holds_one_of_its_terms() -> None:
    """Over many made-up pairs of facts about the same thing (a word or two swapped, taken
    away or added, as ``differ_in_a_fact`` allows), the older one always holds one of the
    terms ``held_by_any_superseded`` gives for the newer, whatever the frequencies."""
    chance = random.Random(4)
    checked, searched = 0, 0
    for fact, _ in itertools.product(FACTS, range(60)):
        words = fact.split()
        changed = words.copy()
        for _ in range(chance.randint(1, 2)):
            place = chance.randrange(len(changed))
            edit = chance.choice(["swap", "drop", "add"])
            if edit == "swap":
                changed[place] = chance.choice(SWAPS)
            elif edit == "drop" and len(changed) > 2:
                del changed[place]
            else:
                changed.insert(place, chance.choice(SWAPS))
        new, old = " ".join(changed), fact
        if not differ_in_a_fact(new, old):
            continue
        frequency = {t: chance.randrange(100) for t in term_counts(new + " " + old)}
        held = held_by_any_superseded(new, lambda t: frequency.get(t, 0))  # noqa: B023
        if held is None:  # "isn't", "7": no index term; a full search, then
            searched += 1
            continue
        assert set(held) & set(term_counts(old)), (new, old, held)
        checked += 1
    assert checked > 100 and searched > 0
