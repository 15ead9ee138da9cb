"""The cache of loaded brains: loaded once on demand, unloaded least recently used past the
budget, never while used, never the last used or a pinned brain."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from neurram.bus import ConsumerStats
from neurram.runtime.cells import BRAIN_WEIGHT, Cells

pytestmark = pytest.mark.asyncio


class FakeConsumer:
    def __init__(self) -> None:
        self.stats = ConsumerStats()

    async def ensure_groups(self) -> None:
        pass


class FakeActor:
    """Holds ``engrams`` in memory; records its life in ``events``."""

    def __init__(
        self,
        brain: str,
        engrams: int,
        events: list[tuple[str, str]],
        gate: asyncio.Event | None = None,
    ) -> None:
        self.brain = brain
        self.gate = gate  # teardown waits for it
        self.engrams = engrams
        self.events = events
        self.ctx: Any = type("Ctx", (), {"metrics": None})()

    async def setup(self) -> None:
        self.events.append(("setup", self.brain))

    async def teardown(self) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.events.append(("teardown", self.brain))

    def consumer(self) -> FakeConsumer:
        return FakeConsumer()

    async def beat(
        self, stats: ConsumerStats, *, stopped: bool = False, quiet: bool = False
    ) -> None:
        pass

    def footprint(self) -> int:
        return self.engrams


def cache(
    budget: int,
    engrams: int = 100,
    pinned: tuple[str, ...] = (),
    gate: asyncio.Event | None = None,
) -> tuple[Cells, list[tuple[str, str]]]:
    events: list[tuple[str, str]] = []

    def make(brain: str, region: str) -> Any:
        return FakeActor(brain, engrams, events, gate)

    return Cells(make, budget, pinned), events


async def touch(cells: Cells, *brains: str) -> None:
    for brain in brains:
        cells.release(await cells.use(brain, "hippocampus"))


async def test_a_region_of_a_brain_is_loaded_once_even_when_asked_for_at_once() -> None:
    cells, events = cache(budget=10_000)
    first, second = await asyncio.gather(
        cells.use("a", "hippocampus"), cells.use("a", "hippocampus")
    )
    assert first is second and first.users == 2
    assert events == [("setup", "a")]


async def test_the_least_recently_used_brains_go_past_the_budget() -> None:
    weight = 100 + BRAIN_WEIGHT
    cells, events = cache(budget=3 * weight)
    await touch(cells, "a", "b", "c", "a", "d")  # d pushes the cache over: b is the oldest
    await cells.shrink()  # as the shrink d's load asked for does, in a task of its own
    assert ("teardown", "b") in events
    assert sorted(cell.brain for cell in cells.loaded()) == ["a", "c", "d"]
    assert cells.weight <= cells.budget
    await touch(cells, "b")  # loaded again on demand
    assert events.count(("setup", "b")) == 2


async def test_a_brain_in_use_pinned_or_used_last_stays() -> None:
    cells, events = cache(budget=0, pinned=("p",))
    await touch(cells, "p")
    held = await cells.use("a", "hippocampus")
    await touch(cells, "b")  # over budget, but a is in use, p pinned, b the last used
    await cells.shrink()
    assert sorted(cell.brain for cell in cells.loaded()) == ["a", "b", "p"]
    cells.release(held)
    await cells.shrink()
    assert sorted(cell.brain for cell in cells.loaded()) == ["b", "p"]
    assert ("teardown", "a") in events


async def test_a_load_does_not_wait_for_the_unloads_it_causes() -> None:
    gate = asyncio.Event()
    cells, events = cache(budget=0, gate=gate)
    # each load asks to unload the others, which cannot finish: the loads go on
    await asyncio.wait_for(touch(cells, "a", "b", "c"), 5)
    assert ("setup", "c") in events and not any(e == "teardown" for e, _ in events)
    gate.set()
    await cells.close()
    assert sorted(b for e, b in events if e == "teardown") == ["a", "b", "c"]
