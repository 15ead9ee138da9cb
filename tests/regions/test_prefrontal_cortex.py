"""PrefrontalCortex: 7 slots, LRU eviction, holding a held engram is rehearsal."""

from __future__ import annotations

from neurram.engram import Engram, Layer
from neurram.regions.prefrontal_cortex import PrefrontalCortex


def fill(pfc: PrefrontalCortex, make_engram, now: float, n: int) -> list[Engram]:
    engrams = [make_engram(f"item {i}", engram_id=f"e{i}") for i in range(n)]
    for i, engram in enumerate(engrams):
        assert pfc.hold(engram, now + i) is None
    return engrams


def ids(pfc: PrefrontalCortex) -> list[str]:
    return [e.engram_id for e in pfc.held]


def test_capacity_is_seven(make_engram, now) -> None:
    pfc = PrefrontalCortex()
    assert pfc.capacity == 7
    fill(pfc, make_engram, now, 7)
    assert len(pfc) == 7
    assert ids(pfc) == [f"e{i}" for i in range(7)]


def test_eighth_engram_displaces_the_least_recently_used(make_engram, now) -> None:
    pfc = PrefrontalCortex()
    first, *_ = fill(pfc, make_engram, now, 7)
    displaced = pfc.hold(make_engram("item 7", engram_id="e7"), now + 7)
    assert displaced is first
    assert "e0" not in pfc
    assert ids(pfc) == [f"e{i}" for i in range(1, 8)]


def test_hold_moves_sensory_engram_to_working(make_engram, now) -> None:
    engram = make_engram("x")
    assert engram.layer is Layer.SENSORY
    PrefrontalCortex().hold(engram, now)
    assert engram.layer is Layer.WORKING


def test_rehearsal_moves_to_most_recent_and_refreshes_without_displacing(make_engram, now) -> None:
    pfc = PrefrontalCortex()
    engrams = fill(pfc, make_engram, now, 7)
    assert pfc.hold(engrams[0], now + 100) is None
    assert len(pfc) == 7
    assert ids(pfc) == [f"e{i}" for i in (1, 2, 3, 4, 5, 6, 0)]
    assert engrams[0].last_accessed == now + 100
    # the next newcomer now displaces e1, not the rehearsed e0
    displaced = pfc.hold(make_engram("new", engram_id="new"), now + 101)
    assert displaced is engrams[1]


def test_rehearsal_with_a_fresh_copy_replaces_it_and_is_working(make_engram, now) -> None:
    pfc = PrefrontalCortex()
    pfc.hold(make_engram("x", engram_id="a"), now)
    copy = make_engram("x", engram_id="a")  # e.g. the same message delivered again
    assert pfc.hold(copy, now + 5) is None
    assert pfc.held == [copy]
    assert copy.last_accessed == now + 5
    assert all(e.layer is Layer.WORKING for e in pfc.held)


def test_custom_capacity_and_initial_slots(make_engram, now) -> None:
    held = [make_engram(engram_id="a"), make_engram(engram_id="b")]
    pfc = PrefrontalCortex(capacity=2, held=held)
    assert ids(pfc) == ["a", "b"]
    assert pfc.hold(make_engram(engram_id="c"), now) is held[0]


def test_release(make_engram, now) -> None:
    pfc = PrefrontalCortex()
    engram = make_engram(engram_id="a")
    pfc.hold(engram, now)
    assert pfc.release("a") is engram
    assert pfc.release("a") is None
    assert len(pfc) == 0
