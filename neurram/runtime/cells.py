"""The brains a runner has loaded: for each, one actor per region, in a cache bounded by the
engrams their indexes hold (brains pinned to the runner always stay).

A brain is loaded when one of its regions is first woken: every actor is made and set up
(the Hippocampus builds its index from the store), and every consumer group ensured. Past
``index_cache_engrams``, the least recently used brains that nothing is using are unloaded
(their actors torn down); the next work for them loads them again. A loaded brain weighs its
indexed engrams plus :data:`BRAIN_WEIGHT`, so many small brains are bounded too.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import structlog

from neurram.bus import StreamConsumer
from neurram.bus.messages import Message
from neurram.runtime.actor import Actor

BRAIN_WEIGHT = 64  # what the actors of a loaded brain weigh, counted in indexed engrams

MakeActor = Callable[[str, str], Actor]  # (brain, region) -> actor


@dataclass
class Cell:
    """One loaded brain: its actors and their consumers, by region."""

    brain: str
    actors: dict[str, Actor]
    consumers: dict[str, StreamConsumer[Message]]
    reported: dict[str, tuple[int, float]] = field(default_factory=dict)  # region ->
    # (handled, monotonic time) at its last heartbeat
    users: int = 0  # polls and ticks in progress: a used cell is never unloaded

    @property
    def weight(self) -> int:
        return BRAIN_WEIGHT + sum(actor.footprint() for actor in self.actors.values())


class Cells:
    """Loaded brains, least recently used first, loading and unloading them on demand."""

    def __init__(
        self,
        regions: Mapping[str, object],
        make: MakeActor,
        budget: int,
        pinned: Collection[str] = (),
    ) -> None:
        self._regions = list(regions)
        self._make = make
        self.budget = budget
        self._pinned = frozenset(pinned)
        self._cells: OrderedDict[str, Cell] = OrderedDict()
        self._loading: dict[str, asyncio.Task[Cell]] = {}
        self._log = structlog.get_logger("neurram").bind(component="cells")

    def __len__(self) -> int:
        return len(self._cells)

    def get(self, brain: str) -> Cell | None:
        """The cell of ``brain`` if loaded."""
        return self._cells.get(brain)

    def loaded(self) -> list[Cell]:
        return list(self._cells.values())

    @property
    def weight(self) -> int:
        return sum(cell.weight for cell in self._cells.values())

    async def use(self, brain: str) -> Cell:
        """The cell of ``brain``, loaded if need be, marked used (call :meth:`release`)."""
        cell = self._cells.get(brain)
        if cell is None:
            task = self._loading.get(brain)
            if task is None:
                task = asyncio.create_task(self._load(brain), name=f"neurram:load:{brain}")
                self._loading[brain] = task
                task.add_done_callback(lambda _: self._loading.pop(brain, None))
            cell = await asyncio.shield(task)
        cell.users += 1
        self._cells.move_to_end(brain)
        return cell

    def release(self, cell: Cell) -> None:
        """Done with ``cell`` (for now)."""
        cell.users -= 1

    async def shrink(self, keep: str | None = None) -> None:
        """Unload the least recently used unused brains until the cache fits its budget (after
        a brain is loaded, and every heartbeat period as indexes grow). The brain used last,
        ``keep`` and pinned brains stay: a brain larger than the budget is not reloaded over
        and over."""
        weight = self.weight
        cells = list(self._cells.values())
        for cell in cells[:-1]:
            if weight <= self.budget:
                return
            if cell.users or cell.brain == keep or cell.brain in self._pinned:
                continue
            weight -= cell.weight
            await self.unload(cell)

    async def unload(self, cell: Cell) -> None:
        del self._cells[cell.brain]
        await close(cell)
        self._log.debug("brain.unloaded", brain=cell.brain)

    async def close(self) -> None:
        """Unload every brain (after the lanes stopped)."""
        for cell in list(self._cells.values()):
            await self.unload(cell)

    async def _load(self, brain: str) -> Cell:
        started = time.monotonic()
        actors: dict[str, Actor] = {}
        try:
            for region in self._regions:
                actor = self._make(brain, region)
                await actor.setup()
                actors[region] = actor
            consumers = {region: actor.consumer() for region, actor in actors.items()}
            for consumer in consumers.values():
                await consumer.ensure_groups()
        except BaseException:
            for actor in actors.values():
                await actor.teardown()
            raise
        cell = Cell(brain, actors, consumers)
        for region, actor in actors.items():  # `neurram top` sees it served at once
            await actor.beat(consumers[region].stats)
            cell.reported[region] = (0, time.monotonic())
        self._cells[brain] = cell
        self._log.debug("brain.loaded", brain=brain, seconds=round(time.monotonic() - started, 3))
        await self.shrink(keep=brain)
        return cell


async def close(cell: Cell) -> None:
    """A last heartbeat from each actor of ``cell``, then its teardown."""
    for region, actor in cell.actors.items():
        stats = cell.consumers[region].stats
        try:
            await actor.beat(stats, stopped=True)
        except Exception as exc:  # the brain is unloaded anyway; its beats expire
            actor.log.warning("heartbeat.failed", error=repr(exc))
        await actor.teardown()
        if actor.ctx.metrics is not None:
            actor.ctx.metrics.retire(region, stats)
