"""ReadAhead: the Hippocampus's catch-up reads, queued by whoever hands it a batch."""

from __future__ import annotations

from typing import Any

from neurram.regions.hippocampus import ReadAhead
from neurram.runtime.store import ChangeQuery


class Store:
    """Counts what it was asked to queue."""

    def __init__(self) -> None:
        self.staged: list[ChangeQuery] = []

    def stage_changes(self, pipe: Any, query: ChangeQuery) -> int:
        self.staged.append(query)
        return 4


def read_ahead(position: list[str]) -> tuple[ReadAhead, Store]:
    store = Store()
    return ReadAhead(store, lambda: ChangeQuery(position[0], 5)), store  # type: ignore[arg-type]


def test_replies_read_ahead_serve_one_catch_up_at_the_position_they_were_read_for() -> None:
    position = ["1-0"]
    ahead, store = read_ahead(position)
    assert ahead.stage(pipe=None) == 4
    assert store.staged == [ChangeQuery("1-0", 5)]
    ahead.take(["head", "changes", "recent", "working"])
    assert ahead.taken(ChangeQuery("1-0", 5)) == ["head", "changes", "recent", "working"]
    assert ahead.taken(ChangeQuery("1-0", 5)) is None  # used once


def test_replies_read_for_another_position_or_lost_serve_none() -> None:
    position = ["1-0"]
    ahead, _ = read_ahead(position)
    ahead.stage(pipe=None)
    ahead.take(["head", "changes", "recent", "working"])
    position[0] = "2-0"  # the index moved on meanwhile
    assert ahead.taken(ChangeQuery("2-0", 5)) is None
    ahead.stage(pipe=None)
    ahead.take(None)  # the producer's transaction failed
    assert ahead.taken(ChangeQuery("2-0", 5)) is None
