"""Supersession: a later memory about the same thing outranks the earlier one."""

from __future__ import annotations

import pytest

from neurram.engram import Engram, MemoryType
from neurram.supersession import differ_in_a_fact, supersedes


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
